// reset-data against a REAL PostgreSQL and a REAL Kafka broker: back to the seeded state in seconds, with the schema,
// topics and their settings kept; refused without a terminal unless --yes.

import kafkajs, { type Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';
import { queryOnce, startPostgres, type PostgresInstance } from '../support/postgres.js';

let server: PostgresInstance;
let kafka: KafkaInstance;
let url: string;
let admin: Admin;
const CLEAN = { LEARNFLOW_NAMESPACE: '', LEARNFLOW_CONTEXT: '', LEARNFLOW_PG_URL: '', LEARNFLOW_KAFKA_BROKERS: '' };
const endpoints = () => ['--no-cluster', '--pg-url', url, '--kafka-brokers', kafka.brokers.join(',')];

const query = <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => queryOnce<T>(url, sql);
const counts = () =>
  query<{ users: string; topics: string; submissions: string }>(
    'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM topics) AS topics, (SELECT count(*) FROM submissions) AS submissions',
  );

beforeAll(async () => {
  // Each assigned as it comes, so afterAll stops the one that started when the other failed.
  await Promise.all([startPostgres().then((p) => (server = p)), startKafka().then((k) => (kafka = k))]);
  url = await server.createDatabase('learnflow');
  for (const s of ['postgres', 'kafka']) {
    const r = await runKit(
      `scripts/deploy-${s}.mts`,
      s === 'postgres' ? ['--no-cluster', '--pg-url', url] : ['--no-cluster', '--kafka-brokers', kafka.brokers.join(',')],
      { env: CLEAN },
    );
    if (r.code !== 0) throw new Error(`deploy-${s}: ${r.stderr}`);
  }
  admin = new kafkajs.Kafka({ brokers: kafka.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
}, 120_000);
afterAll(async () => {
  await admin?.disconnect();
  await Promise.all([server?.stop(), kafka?.stop()]);
});

describe('reset-data', () => {
  it('refuses without a terminal unless --yes, and changes nothing then', async () => {
    const before = await counts();
    const r = await runKit('scripts/reset-data.mts', endpoints(), { env: CLEAN });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('add --yes');
    expect(await counts()).toEqual(before);
  });

  it('empties the tables and seeds them again, deletes the topic records and the Dapr state; keeps topics and settings', { timeout: 90_000 }, async () => {
    const seeded = await counts();
    await query(
      `INSERT INTO users (email, password_hash, display_name, role) VALUES ('someone@example.com', '$2b$12$abcdefghijklmnopqrstuuJ0J1mX8Qe2mV5k7QhLhC5y6Q0c8Q9Wq', 'Someone', 'student')`,
    );
    await query(
      `CREATE SCHEMA IF NOT EXISTS dapr; CREATE TABLE IF NOT EXISTS dapr.state (key text PRIMARY KEY, value jsonb); INSERT INTO dapr.state VALUES ('a', '{}'), ('b', '{}')`,
    );
    const producer = new kafkajs.Kafka({ brokers: kafka.brokers, logLevel: kafkajs.logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic: 'exercise.submissions', messages: [{ value: 'one' }, { value: 'two' }] });
    await producer.disconnect();
    const configBefore = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: 'exercise.submissions' }],
    });

    const r = await runKit('scripts/reset-data.mts', [...endpoints(), '--yes', '--json'], { env: CLEAN });
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.durationMs).toBeLessThan(20_000);
    const changes = (JSON.parse(r.stdout) as Report).steps[0]!.changes!;
    expect(changes).toMatchObject({ 'LearnFlow tables': 'emptied', 'Dapr state': '2 key(s) deleted', 'topic exercise.submissions': '2 record(s) deleted' });

    expect(await counts()).toEqual(seeded);
    expect(await query("SELECT email FROM users WHERE email = 'someone@example.com'")).toEqual([]);
    expect(await query('SELECT count(*)::int AS n FROM dapr.state')).toEqual([{ n: 0 }]);
    const offsets = await admin.fetchTopicOffsets('exercise.submissions');
    expect(offsets.every((p) => p.low === p.high)).toBe(true);
    const configAfter = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: 'exercise.submissions' }],
    });
    expect(configAfter.resources[0]!.configEntries.map((e) => [e.configName, e.configValue])).toEqual(
      configBefore.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]),
    );
    // The schema and the migration record stay: the next deploy applies nothing.
    const d = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url, '--json'], { env: CLEAN });
    expect(Object.values((JSON.parse(d.stdout) as Report).steps[0]!.changes!)).toEqual(['unchanged', 'unchanged', 'unchanged']);
  });
});
