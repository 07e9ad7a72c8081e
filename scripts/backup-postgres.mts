#!/usr/bin/env -S node --import tsx
// Backs up the LearnFlow database to a local plain-SQL file (pg_dump in the pod, or locally with --pg-url).
import { backupScript } from './lib/day2/backup.js';
import { runScript } from './lib/run.js';

runScript(backupScript());
