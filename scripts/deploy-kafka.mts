#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Deploys Kafka (KRaft, apache/kafka image, Services kafka:9092 + kafka-headless) and reconciles k8s/kafka/topics.yaml.
import { deployScript } from './lib/workflows/component-scripts.js';
import { kafka } from './lib/components/kafka/index.js';
import { runScript } from './lib/cli/run.js';

runScript(deployScript(kafka));
