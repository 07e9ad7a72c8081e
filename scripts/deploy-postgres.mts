#!/usr/bin/env -S node --import tsx
// Deploys PostgreSQL (StatefulSet, 5Gi volume, Secret, Service postgresql:5432) and applies sql/migrations.
import { deployScript } from './lib/component-scripts.js';
import { postgres } from './lib/components/postgres/index.js';
import { runScript } from './lib/run.js';

runScript(
  deployScript(
    postgres,
    'deploy-postgres',
    'Deploys PostgreSQL into the namespace (official postgres image, 5Gi volume, password generated once and kept in a Secret)\nand applies sql/migrations (9 tables, 24 Python topics, test users). Safe to re-run: nothing applied twice, no data lost.\nWith --no-cluster --pg-url URL it only applies the migrations at URL.',
  ),
);
