#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Checks the Dapr control plane and components, then probes them end to end through a real sidecar. See --help.
import { COMPONENTS } from './lib/components/index.js';
import { verifyScript } from './lib/workflows/component-scripts.js';
import { runScript } from './lib/cli/run.js';

runScript(verifyScript(COMPONENTS.dapr!));
