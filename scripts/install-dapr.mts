#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Installs the Dapr control plane (official Helm chart, laptop values) and applies kafka-pubsub, statestore, the
// Configuration and the Resiliency policy into the namespace. See --help and docs/dapr.md.
import { COMPONENTS } from './lib/components/index.js';
import { deployScript } from './lib/workflows/component-scripts.js';
import { runScript } from './lib/cli/run.js';

runScript(deployScript(COMPONENTS.dapr!));
