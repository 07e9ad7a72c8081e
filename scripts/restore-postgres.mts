#!/usr/bin/env -S node --import tsx
// Restores a backup-postgres.mts file, in one transaction; asks before overwriting a database that holds tables.
import { restoreScript } from './lib/day2/backup.js';
import { runScript } from './lib/run.js';

runScript(restoreScript());
