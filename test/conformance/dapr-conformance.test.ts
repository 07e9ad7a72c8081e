// Dapr's own conformance suites (components-contrib tests/conformance pubsub and state) against the kit's
// kafka-pubsub and statestore, on the test substrate's real Kafka (the pinned version, topic auto-creation off)
// and real PostgreSQL, logged in as the dapr_state role the kit sets up. The metadata is what the kit renders.
// Every upstream subtest is counted in test/run-all.sh's closing line (test-results/conformance.json); a failed,
// skipped or unfinished one counts as failed. Layer description: docs/testing-substrate.md.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../scripts/lib/components/shared/kafka-client.js';
import { memoryLogger } from '../../scripts/lib/core/log.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';
import {
  buildSpec,
  conformanceBuild,
  createSuiteTopics,
  DB_NAME,
  describeFailures,
  runSuites,
  setUpStateStoreRole,
  suiteTopics,
  writeResults,
  type Spec,
  type StateStoreLogin,
  type SuiteResults,
} from './harness.js';

const { ConfigResourceTypes } = kafkajs;

let pgServer: PostgresInstance | undefined;
let broker: KafkaInstance | undefined;
let build: Awaited<ReturnType<typeof conformanceBuild>>;
let login: StateStoreLogin;
let spec: Spec;
let topics: Awaited<ReturnType<typeof createSuiteTopics>>;
let work: string;
let dbUrl: string;
let suitesRan = false;

beforeAll(async () => {
  // Fails loudly when the binary (or the Go toolchain that builds it) is missing: never a skip.
  build = await conformanceBuild();
  work = await mkdtemp(join(tmpdir(), 'learnflow-conformance-'));
  const [pgS, kafkaS] = await Promise.allSettled([startPostgres(), startKafka({ config: { 'auto.create.topics.enable': 'false' } })]);
  if (pgS.status === 'fulfilled') pgServer = pgS.value;
  if (kafkaS.status === 'fulfilled') broker = kafkaS.value;
  if (pgS.status === 'rejected') throw pgS.reason;
  if (kafkaS.status === 'rejected') throw kafkaS.reason;

  dbUrl = await pgServer!.createDatabase(DB_NAME);
  login = await setUpStateStoreRole(dbUrl, pgServer!.port);
  spec = buildSpec(broker!.brokers, login.connectionString);
  topics = await createSuiteTopics(
    broker!.brokers,
    spec.pubsub.flatMap((r) => Object.values(suiteTopics(r.name))),
  );
}, 180_000);

afterAll(async () => {
  await Promise.all([broker?.stop(), pgServer?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('Dapr conformance suites on the kit components (components-contrib, real Kafka and PostgreSQL)', () => {
  it('sets up the dapr_state role with the kit code, and the connection string names that role', () => {
    expect(login.roles).toMatchObject({ 'role dapr_state': 'created', 'schema dapr': 'created', 'role dapr_state search_path': 'configured' });
    expect(login.connectionString).toMatch(/^host=127\.0\.0\.1 port=\d+ user=dapr_state password=\S+ dbname=learnflow sslmode=prefer /);
  });

  it('creates the suite topics with the kit topic code on a broker that does not auto-create them', async () => {
    const names = spec.pubsub.flatMap((r) => Object.values(suiteTopics(r.name)));
    expect(topics.before.filter((t) => names.includes(t))).toEqual([]);
    expect(Object.values(topics.outcome)).toEqual(names.map(() => 'created'));
    const admin = createKafka(broker!.brokers, memoryLogger(false)).admin();
    await admin.connect();
    try {
      const cfg = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['auto.create.topics.enable'] }],
      });
      expect(cfg.resources[0]?.configEntries[0]?.configValue).toBe('false');
    } finally {
      await admin.disconnect();
    }
  });

  it('passes every upstream pubsub (twice: as rendered, backOff* changed) and state subtest', { timeout: 13 * 60_000 }, async () => {
    const specFile = join(work, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec, null, 2), { mode: 0o600 });
    const results: SuiteResults = await runSuites(build, specFile, work, [login.password]);
    await writeResults(results);
    suitesRan = true;
    const suite = (prefix: string) => results.tests.filter((t) => t.name.startsWith(prefix)).length;
    console.log(
      `dapr conformance: ${results.passed} passed, ${results.failed} failed in ${results.seconds}s ` +
        `(pubsub kit ${suite('TestPubsubConformance/kit/')}, pubsub kit-backoff-changed ${suite('TestPubsubConformance/kit-backoff-changed/')}, ` +
        `state ${suite('TestStateConformance/kit/')}, metadata keys ${suite('TestKitMetadataKeys/')})`,
    );
    expect(results.failed, describeFailures(results)).toBe(0);
    for (const run of [...spec.pubsub.map((r) => `TestPubsubConformance/${r.name}/`), ...spec.state.map((r) => `TestStateConformance/${r.name}/`)]) {
      expect(suite(run), `no subtest of ${run}`).toBeGreaterThan(0);
    }
  });

  it('left the state store tables in schema dapr, owned by dapr_state, and nothing of it elsewhere', async () => {
    expect(suitesRan, 'the suites did not run').toBe(true);
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ t: string }>(
        "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE tableowner = 'dapr_state' OR schemaname = 'dapr' ORDER BY 1",
      );
      expect(rows.map((r) => r.t)).toEqual(['dapr.dapr_metadata', 'dapr.state']);
      const { rows: owners } = await client.query<{ o: string }>("SELECT DISTINCT tableowner AS o FROM pg_tables WHERE schemaname = 'dapr'");
      expect(owners.map((r) => r.o)).toEqual(['dapr_state']);
    } finally {
      await client.end();
    }
  });
});
