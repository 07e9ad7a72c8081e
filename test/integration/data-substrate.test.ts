// Proves the data substrate: a real PostgreSQL 15 and a real Kafka broker (the version the kit deploys) start
// locally, and the clients the kit uses (pg, kafkajs 2.2.4) can do everything the kit needs against them.
// Requires test/substrate/provision.sh to have run; fails loudly (never skips) otherwise.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ConfigResourceTypes, Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';
import { waitFor } from '../support/poll.js';
import { pinnedKafkaVersion, startKafka, type KafkaInstance } from '../support/kafka.js';

const LONG = { timeout: 120_000 };

describe('data substrate: PostgreSQL', () => {
  let pgi: PostgresInstance;

  beforeAll(async () => {
    pgi = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await pgi?.stop();
    if (pgi) expect(existsSync(pgi.dir)).toBe(false);
  }, 120_000);

  it('serves PostgreSQL 15 on loopback with scram auth and pg_stat_statements', LONG, async () => {
    expect(pgi.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    const client = new pg.Client({ connectionString: pgi.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string }>('SELECT version()');
      expect(rows[0]!.version).toMatch(/PostgreSQL 15\./);
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      const stats = await client.query('SELECT count(*)::int AS n FROM pg_stat_statements');
      expect(stats.rows[0]!.n).toBeGreaterThan(0);
      const hba = await client.query<{ auth_method: string }>("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host'");
      expect(hba.rows.map((r) => r.auth_method)).toEqual(expect.arrayContaining(['scram-sha-256']));
      const fsync = await client.query<{ fsync: string }>('SHOW fsync');
      expect(fsync.rows[0]!.fsync).toBe('off');
    } finally {
      await client.end();
    }
  });

  it('rejects a wrong password', LONG, async () => {
    const bad = new pg.Client({ connectionString: pgi.url.replace(/:[^:@]+@/, ':wrong@') });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
    await bad.end().catch(() => undefined);
  });

  it('creates a database and returns a working URL', LONG, async () => {
    const url = await pgi.createDatabase('learnflow_app');
    expect(url).toMatch(/\/learnflow_app$/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]!.db).toBe('learnflow_app');
    } finally {
      await client.end();
    }
  });
});

describe('data substrate: Kafka with kafkajs 2.2.4', () => {
  let broker: KafkaInstance;
  let kafka: Kafka;
  let admin: Admin;
  const topic = `substrate-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const t0 = Date.now();
    broker = await startKafka();
    console.info(`Kafka ${broker.version} ready on ${broker.brokers[0]} in ${Date.now() - t0} ms`);
    kafka = new Kafka({ clientId: 'substrate-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await admin?.disconnect().catch(() => undefined);
    await broker?.stop();
    if (broker) expect(existsSync(broker.dir)).toBe(false);
  }, 120_000);

  it('runs the pinned Kafka version', () => {
    expect(broker.version).toBe(pinnedKafkaVersion());
    expect(broker.brokers).toEqual([`127.0.0.1:${broker.port}`]);
  });

  it('describeCluster', LONG, async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.brokers[0]).toMatchObject({ nodeId: 1, host: '127.0.0.1', port: broker.port });
    expect(cluster.controller).toBe(1);
  });

  it('createTopics (explicit; auto-creation is off) and fetchTopicMetadata', LONG, async () => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
    });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toContain(topic);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]!.name).toBe(topic);
    expect(meta.topics[0]!.partitions).toHaveLength(2);
    for (const p of meta.topics[0]!.partitions) expect(p.leader).toBe(1);
  });

  it('auto.create.topics.enable=false: metadata for an unknown topic does not create it', LONG, async () => {
    await expect(admin.fetchTopicMetadata({ topics: [`${topic}-missing`] })).rejects.toThrow();
    expect(await admin.listTopics()).not.toContain(`${topic}-missing`);
  });

  it('produces a message and consumes it back with a fresh group from the beginning', LONG, async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    const value = `hello-${randomUUID()}`;
    try {
      const [res] = await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value }] });
      expect(res!.errorCode).toBe(0);
    } finally {
      await producer.disconnect();
    }

    const consumer = kafka.consumer({ groupId: `substrate-group-${randomUUID()}`, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = new Promise<string>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            const v = message.value?.toString() ?? '';
            if (v === value) resolve(v);
          },
        });
      });
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no message consumed within 30 s')), 30_000).unref());
      expect(await Promise.race([received, timeout])).toBe(value);
    } finally {
      await consumer.disconnect();
    }
  });

  it('describeConfigs and alterConfigs', LONG, async () => {
    const describe = async (): Promise<Map<string, string>> => {
      const res = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      });
      expect(res.resources[0]!.errorCode).toBe(0);
      return new Map(res.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    };
    const before = await describe();
    expect(before.get('retention.ms')).toBe('3600000');
    expect(before.has('cleanup.policy')).toBe(true);

    // Note: AlterConfigs replaces the topic's whole dynamic config set (not incremental).
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [
            { name: 'retention.ms', value: '7200000' },
            { name: 'max.message.bytes', value: '2097152' },
          ],
        },
      ],
    });
    const after = await describe();
    expect(after.get('retention.ms')).toBe('7200000');
    expect(after.get('max.message.bytes')).toBe('2097152');
  });

  it('createPartitions', LONG, async () => {
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    // The broker answers the create before its metadata cache has the new partitions (seen once in CI): ask again.
    const partitions = await waitFor(
      'the topic to show 4 partitions',
      async () => {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        return meta.topics[0]!.partitions.length === 4 ? meta.topics[0]!.partitions : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(partitions).toHaveLength(4);
  });

  // Last: leaves the broker dead (afterAll's stop() still cleans up).
  it('kill() hard-stops the broker, like a dead broker', LONG, async () => {
    await broker.kill();
    const probe = new Kafka({
      clientId: 'substrate-probe',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
    }).admin();
    await expect(probe.connect().then(() => probe.describeCluster())).rejects.toThrow();
    await probe.disconnect().catch(() => undefined);
    expect(existsSync(broker.dir)).toBe(true);
  });
});

describe('data substrate: fails loudly when not provisioned', () => {
  it('startPostgres names the provisioning script when binaries are missing', async () => {
    await expect(startPostgres({ binDir: '/nonexistent/postgresql/bin' })).rejects.toThrow(/test\/substrate\/provision\.sh/);
  });

  it('startKafka names the provisioning script when jars are missing', async () => {
    await expect(startKafka({ version: '0.0.0-not-provisioned' })).rejects.toThrow(/test\/substrate\/provision\.sh/);
  });
});
