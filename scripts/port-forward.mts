#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Background port-forwards to a stack's PostgreSQL and Kafka on its laptop ports, re-opened when they drop:
// start | status | stop.
import { portForwardScript } from './lib/tools/port-forward.js';
import { runScript } from './lib/cli/run.js';

runScript(portForwardScript(), process.argv.slice(2));
