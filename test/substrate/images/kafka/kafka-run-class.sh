#!/bin/bash
# /opt/kafka/bin/kafka-run-class.sh of the test substrate's Kafka stand-in (written for this project):
#   kafka-run-class.sh CLASS ARGS...  runs CLASS on the jars in /opt/kafka/libs.
# Honours KAFKA_HEAP_OPTS (default -Xmx256M), KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS, KAFKA_LOG4J_OPTS (default:
# config/tools-log4j2.yaml, WARN to stderr), JAVA_HOME. The tool scripts beside it are one-line wrappers.
set -euo pipefail
base="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 CLASS [ARGS...]" >&2; exit 1; }
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
log4j="${KAFKA_LOG4J_OPTS:-}"
if [[ -z "$log4j" && -f "$base/config/tools-log4j2.yaml" ]]; then log4j="-Dlog4j2.configurationFile=$base/config/tools-log4j2.yaml"; fi
# shellcheck disable=SC2086 # the *_OPTS variables are lists of JVM arguments
exec "$java" ${KAFKA_HEAP_OPTS:--Xmx256M} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true} \
  $log4j ${KAFKA_OPTS:-} -cp "$base/libs/*" "$@"
