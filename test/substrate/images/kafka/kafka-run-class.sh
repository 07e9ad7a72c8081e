#!/bin/bash
# /opt/kafka/bin/kafka-run-class.sh of the test substrate's Kafka stand-in (written for this project):
#   kafka-run-class.sh [-name NAME] [-loggc] CLASS ARGS...  runs CLASS on the jars in /opt/kafka/libs.
# The documented interface of Kafka's bin/kafka-run-class.sh, as far as the kit relies on it:
#   - java KAFKA_HEAP_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS KAFKA_LOG4J_OPTS -cp ... KAFKA_OPTS
#     CLASS ARGS, in that order: KAFKA_OPTS comes last, so a -D in it wins over the same -D before it;
#   - KAFKA_HEAP_OPTS defaults to -Xmx256M; KAFKA_JVM_PERFORMANCE_OPTS, when empty, to Kafka's G1 settings (a
#     non-empty value replaces them all, the collector included); KAFKA_LOG4J_OPTS to config/tools-log4j2.yaml;
#   - `-name NAME` names the process (its GC log file), `-loggc` logs GC to $LOG_DIR/NAME-gc.log (rotated, 10 x 100M)
#     unless KAFKA_GC_LOG_OPTS is set; `-daemon` is refused (the image never uses it); JAVA_HOME.
# Not here: JMX_PORT, KAFKA_DEBUG, CLASSPATH additions, the console output file of -daemon.
set -euo pipefail
base="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="" loggc=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -name) [[ $# -ge 2 ]] || { echo "$0: -name needs a value" >&2; exit 1; }; name="$2"; shift 2 ;;
    -loggc) loggc=1; shift ;;
    -daemon) echo "$0: -daemon is not supported by the test substrate's stand-in" >&2; exit 1 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { echo "usage: $0 [-name NAME] [-loggc] CLASS [ARGS...]" >&2; exit 1; }
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
heap="${KAFKA_HEAP_OPTS:--Xmx256M}"
perf="${KAFKA_JVM_PERFORMANCE_OPTS:-}"
if [[ -z "$perf" ]]; then
  perf="-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
fi
gclog="${KAFKA_GC_LOG_OPTS:-}"
if [[ -n "$loggc" && -z "$gclog" ]]; then
  logdir="${LOG_DIR:-$base/logs}"
  mkdir -p "$logdir"
  gclog="-Xlog:gc*:file=$logdir/${name:-kafka}-gc.log:time,tags:filecount=10,filesize=100M"
fi
log4j="${KAFKA_LOG4J_OPTS:-}"
if [[ -z "$log4j" && -f "$base/config/tools-log4j2.yaml" ]]; then log4j="-Dlog4j2.configurationFile=$base/config/tools-log4j2.yaml"; fi
# Every jar by name, in the shell's sorted order, as Kafka's script lists them (not the JVM's `libs/*`, whose order is
# the directory's): a class-data sharing archive maps only into the class path it was dumped with.
cp=""
for jar in "$base"/libs/*.jar; do cp="${cp:+$cp:}$jar"; done
# shellcheck disable=SC2086 # the *_OPTS variables are lists of JVM arguments
exec "$java" $heap $perf $gclog ${KAFKA_JMX_OPTS:-} $log4j -cp "$cp" ${KAFKA_OPTS:-} "$@"
