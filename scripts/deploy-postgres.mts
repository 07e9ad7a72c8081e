#!/usr/bin/env -S node --import tsx
// Deploys PostgreSQL (StatefulSet, 5Gi volume, Secret, Service postgresql:5432) and applies sql/migrations.
import { deployScript } from './lib/component-scripts.js';
import { postgres } from './lib/components/postgres/index.js';
import { runScript } from './lib/run.js';

runScript(deployScript(postgres, 'deploy-postgres'));
