#!/usr/bin/env -S node --import tsx
// Writes docs/configuration.md from the flag definitions of every script (--check: only say whether it is stale).
import { genConfigDocsScript } from './lib/day2/config-docs.js';
import { runScript } from './lib/run.js';

runScript(genConfigDocsScript());
