#!/usr/bin/env -S node --import tsx
// Removes the stack in reverse order; keeps volumes and their Secrets unless --purge. See --help.
import { COMPONENTS } from './scripts/lib/components/index.js';
import { destroyAllScript } from './scripts/lib/orchestrate.js';
import { runScript } from './scripts/lib/run.js';

runScript(destroyAllScript(COMPONENTS));
