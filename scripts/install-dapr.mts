#!/usr/bin/env -S node --import tsx
// Installs the Dapr control plane (official Helm chart, laptop values) and applies kafka-pubsub, statestore, the
// Configuration and the Resiliency policy into the namespace. See --help and docs/dapr.md.
import { installDaprScript } from './lib/components/dapr/index.js';
import { runScript } from './lib/run.js';

runScript(installDaprScript());
