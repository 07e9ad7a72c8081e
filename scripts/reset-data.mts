#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Back to the seeded state: tables emptied and seeded again, topic records and Dapr state deleted. See --help.
import { resetScript } from './lib/tools/reset.js';
import { runScript } from './lib/cli/run.js';

runScript(resetScript());
