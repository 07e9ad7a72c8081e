#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Background port-forwards to PostgreSQL and Kafka on fixed local ports, re-opened when they drop: start | status | stop.
import { portForwardScript, splitCommand } from './lib/tools/port-forward.js';
import { runScript } from './lib/cli/run.js';

const { command, rest } = splitCommand(process.argv.slice(2));
runScript(portForwardScript(command), rest);
