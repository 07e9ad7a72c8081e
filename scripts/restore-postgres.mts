#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Restores a backup-postgres.mts folder, each database in one transaction; asks before overwriting one that holds tables.
import { restoreScript } from './lib/tools/backup.js';
import { runScript } from './lib/cli/run.js';

runScript(restoreScript());
