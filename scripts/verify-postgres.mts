#!/usr/bin/env -S node --import tsx
// Checks the deployed PostgreSQL: pod, volume, Service, schema, seed, and a rolled-back write.
import { verifyScript } from './lib/component-scripts.js';
import { postgres } from './lib/components/postgres/index.js';
import { runScript } from './lib/run.js';

runScript(
  verifyScript(
    postgres,
    'verify-postgres',
    'Checks PostgreSQL: pod ready, volume bound, Service endpoints, connection, the 9 tables with their columns and foreign keys,\nthe 24 topics, the test users, and a write/read round trip that is rolled back. Runs every check; exit 1 if any failed.\nWith --no-cluster --pg-url URL only the data checks run.',
  ),
);
