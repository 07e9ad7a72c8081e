#!/usr/bin/env -S node --import tsx
// Deploys Kafka + PostgreSQL (together), then Dapr, each against its budget. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { deployAllScript } from './scripts/lib/orchestrate.js';
import { runScript } from './scripts/lib/run.js';

runScript(deployAllScript(COMPONENTS));
