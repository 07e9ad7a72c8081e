#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Removes the stack in reverse order; keeps volumes and their Secrets unless --purge. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { destroyAllScript } from './scripts/lib/workflows/deploy-verify-all.js';
import { runScript } from './scripts/lib/cli/run.js';

runScript(destroyAllScript(COMPONENTS));
