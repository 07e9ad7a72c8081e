#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Lists every image the stack pulls and prints the commands to pre-load them into minikube, kind, k3d or Docker
// Desktop; --load runs them; save FILE / load FILE carry the images and the Dapr chart to a machine without network.
import { COMPONENTS } from './lib/components/index.js';
import { imagesScript } from './lib/tools/images.js';
import { runScript } from './lib/cli/run.js';

runScript(imagesScript(Object.values(COMPONENTS)), process.argv.slice(2));
