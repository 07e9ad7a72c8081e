#!/usr/bin/env -S node --import tsx
// Checks the deployed PostgreSQL: pod, volume, Service, schema, seed, and a rolled-back write.
import { verifyScript } from './lib/component-scripts.js';
import { postgres } from './lib/components/postgres/index.js';
import { runScript } from './lib/run.js';

runScript(verifyScript(postgres, 'verify-postgres'));
