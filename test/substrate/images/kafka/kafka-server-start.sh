#!/bin/bash
# /opt/kafka/bin/kafka-server-start.sh of the test substrate's Kafka stand-in (written for this project):
#   kafka-server-start.sh server.properties  runs the broker in the foreground.
# As Kafka's own: KAFKA_HEAP_OPTS defaults to -Xmx1G -Xms1G; logging to config/log4j2.yaml unless KAFKA_LOG4J_OPTS says
# otherwise; EXTRA_ARGS (default `-name kafkaServer -loggc`: a GC log file under /opt/kafka/logs) go to
# kafka-run-class.sh before the class, so `EXTRA_ARGS=-name kafkaServer` logs no GC.
set -euo pipefail
base="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 server.properties [--override property=value]..." >&2; exit 1; }
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base/config/log4j2.yaml}"
extra="${EXTRA_ARGS--name kafkaServer -loggc}"
# shellcheck disable=SC2086 # EXTRA_ARGS is a list of words
exec "$base/bin/kafka-run-class.sh" $extra kafka.Kafka "$@"
