#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Backs up the stack's PostgreSQL (every database the kit manages, its logins, the topic catalogue) to a local folder.
import { backupScript } from './lib/tools/backup.js';
import { runScript } from './lib/cli/run.js';

runScript(backupScript());
