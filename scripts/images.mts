#!/usr/bin/env -S node --import tsx
// Lists every image the stack pulls and prints the commands to pre-load them into minikube, kind or k3d.
import { COMPONENTS } from './lib/components/index.js';
import { imagesScript } from './lib/day2/images.js';
import { runScript } from './lib/run.js';

runScript(imagesScript(async () => Object.values(COMPONENTS)));
