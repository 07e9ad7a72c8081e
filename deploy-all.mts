#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Deploys Kafka + PostgreSQL (together), then Dapr, each against its budget. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { deployAllScript } from './scripts/lib/workflows/deploy-verify-all.js';
import { runScript } from './scripts/lib/cli/run.js';

runScript(deployAllScript(COMPONENTS));
