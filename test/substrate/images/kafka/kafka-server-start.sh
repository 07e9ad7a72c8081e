#!/bin/bash
# /opt/kafka/bin/kafka-server-start.sh of the test substrate's Kafka stand-in (written for this project):
#   kafka-server-start.sh server.properties  runs the broker in the foreground.
# KAFKA_HEAP_OPTS defaults to -Xmx1G -Xms1G; logging to config/log4j2.yaml unless KAFKA_LOG4J_OPTS says otherwise.
set -euo pipefail
base="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 server.properties [--override property=value]..." >&2; exit 1; }
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base/config/log4j2.yaml}"
exec "$base/bin/kafka-run-class.sh" kafka.Kafka "$@"
