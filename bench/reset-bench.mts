#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Benchmark (not a test): how fast scripts/reset-data.mts brings a used stack back to the seeded state, on a real
// PostgreSQL and a real Kafka broker (the data plane is all it touches). Each run first "uses" the stack: a few
// hundred rows in the LearnFlow tables and a few thousand records in the topics, then times the reset.
// Goal (the services issue): seconds. Usage: bench/reset-bench.mts [--runs N]

import kafkajs from 'kafkajs';
import pg from 'pg';
import { runKit } from '../test/support/cli.js';
import { startKafka } from '../test/support/kafka.js';
import { startPostgres } from '../test/support/postgres.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3) || 3;
const CLEAN = { LEARNFLOW_NAMESPACE: '', LEARNFLOW_CONTEXT: '', LEARNFLOW_PG_URL: '', LEARNFLOW_KAFKA_BROKERS: '' };

const [server, broker] = await Promise.all([startPostgres(), startKafka()]);
try {
  const url = await server.createDatabase('learnflow');
  const endpoints = ['--no-cluster', '--pg-url', url, '--kafka-brokers', broker.brokers.join(',')];
  for (const s of ['postgres', 'kafka']) {
    const r = await runKit(`scripts/deploy-${s}.mts`, s === 'postgres' ? ['--no-cluster', '--pg-url', url] : ['--no-cluster', '--kafka-brokers', broker.brokers.join(',')], { env: CLEAN });
    if (r.code !== 0) throw new Error(`deploy-${s}: ${r.stderr}`);
  }
  const producer = new kafkajs.Kafka({ brokers: broker.brokers, logLevel: kafkajs.logLevel.NOTHING }).producer();
  await producer.connect();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`INSERT INTO users (email, password_hash, display_name, role) SELECT 'u' || g || '@example.com', '$2b$12$abcdefghijklmnopqrstuuJ0J1mX8Qe2mV5k7QhLhC5y6Q0c8Q9Wq', 'User ' || g, 'student' FROM generate_series(1, 300) g`);
    await c.end();
    for (const topic of ['learning.queries', 'exercise.submissions', 'progress.updates']) {
      await producer.send({ topic, messages: Array.from({ length: 1000 }, (_, k) => ({ value: `event ${k}` })) });
    }
    const r = await runKit('scripts/reset-data.mts', [...endpoints, '--yes'], { env: CLEAN });
    if (r.code !== 0) throw new Error(`reset-data: ${r.stderr}`);
    times.push(r.durationMs);
    console.log(`run ${i + 1}: reset-data ${(r.durationMs / 1000).toFixed(2)} s (300 rows, 3000 records; the process start included)`);
  }
  await producer.disconnect();
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(`\nreset-data median ${(median / 1000).toFixed(2)} s over ${runs} run(s) (goal: seconds)`);
} finally {
  await Promise.all([server.stop(), broker.stop()]);
}
