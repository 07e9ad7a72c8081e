#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Deploys PostgreSQL (StatefulSet, 5Gi volume, Secret, Service postgresql:5432) and applies sql/migrations.
import { deployScript } from './lib/workflows/component-scripts.js';
import { postgres } from './lib/components/postgres/index.js';
import { runScript } from './lib/cli/run.js';

runScript(deployScript(postgres));
