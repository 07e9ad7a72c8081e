#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Checks the deployed Kafka: pods, broker metadata, every catalogue topic, a round trip on every topic.
import { verifyScript } from './lib/workflows/component-scripts.js';
import { kafka } from './lib/components/kafka/index.js';
import { runScript } from './lib/cli/run.js';

runScript(verifyScript(kafka));
