#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Runs every component's checks, even after one fails; one summary table. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { verifyAllScript } from './scripts/lib/workflows/deploy-verify-all.js';
import { runScript } from './scripts/lib/cli/run.js';

runScript(verifyAllScript(COMPONENTS));
