#!/usr/bin/env -S node --import tsx
// Checks the Dapr control plane and components, then probes them end to end through a real sidecar. See --help.
import { verifyDaprScript } from './lib/components/dapr/index.js';
import { runScript } from './lib/run.js';

runScript(verifyDaprScript());
