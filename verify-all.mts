#!/usr/bin/env -S node --import tsx
// Runs every component's checks, even after one fails; one summary table. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { verifyAllScript } from './scripts/lib/orchestrate.js';
import { runScript } from './scripts/lib/run.js';

runScript(verifyAllScript(COMPONENTS));
