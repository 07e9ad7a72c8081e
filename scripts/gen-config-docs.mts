#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Writes docs/configuration.md from the flag definitions of every script (--check: only say whether it is stale).
import { loadScript } from './lib/cli/registry.js';
import { runScript } from './lib/cli/run.js';

runScript(await loadScript('gen-config-docs'));
