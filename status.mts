#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// What runs and how to reach it, one screen per component. Read only. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { statusScript } from './scripts/lib/tools/status.js';
import { runScript } from './scripts/lib/cli/run.js';

runScript(statusScript(Object.values(COMPONENTS)));
