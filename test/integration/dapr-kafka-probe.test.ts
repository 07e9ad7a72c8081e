// The Kafka side of verify-dapr's probe against a REAL broker of the pinned version (test/support/kafka.ts): the
// probe topic is created (the kit's broker does not auto-create topics) and found on the next run; a message
// published the way Dapr's pubsub.kafka publishes it (a CloudEvent envelope) is found by its marker; a marker
// never published is reported as not found; the throwaway consumer group is removed.

import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureProbeTopic, findMarker, PROBE_TOPIC } from '../../scripts/lib/components/dapr/probe.js';
import { connectKafka, createKafka, type KafkaSession } from '../../scripts/lib/components/shared/kafka-client.js';
import { PROBE_GROUP_PREFIX } from '../../scripts/lib/components/shared/kafka-topology.js';
import type { StepCtx } from '../../scripts/lib/run/context.js';
import { memoryLogger } from '../../scripts/lib/core/log.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';

const { ConfigResourceTypes } = kafkajs;
const LONG = { timeout: 90_000 };

let broker: KafkaInstance;
let session: KafkaSession;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  broker = await startKafka({ config: { 'auto.create.topics.enable': 'false' } });
  const step = { log: memoryLogger(false) } as unknown as StepCtx;
  session = await connectKafka(step, { brokers: broker.brokers, via: 'test broker', fix: '', ensure: async () => {} });
  kafka = createKafka(broker.brokers, memoryLogger(false));
  admin = kafka.admin();
  await admin.connect();
}, 120_000);

afterAll(async () => {
  await admin?.disconnect().catch(() => {});
  await session?.close();
  await broker?.stop();
}, 60_000);

/** What daprd's pubsub.kafka writes: the payload inside a CloudEvent (content type application/cloudevents+json). */
function cloudEvent(marker: string): string {
  return JSON.stringify({
    specversion: '1.0',
    id: 'x',
    source: 'learnflow-dapr-probe',
    type: 'com.dapr.event.sent',
    topic: PROBE_TOPIC,
    pubsubname: 'kafka-pubsub',
    datacontenttype: 'application/json',
    data: { marker },
  });
}

describe('probe topic and marker on a real Kafka', () => {
  it('creates the probe topic with one partition and one hour of retention, then finds it present', LONG, async () => {
    expect(await ensureProbeTopic(session)).toBe(true);
    expect(await ensureProbeTopic(session)).toBe(false);
    const meta = await admin.fetchTopicMetadata({ topics: [PROBE_TOPIC] });
    expect(meta.topics[0]!.partitions).toHaveLength(1);
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: PROBE_TOPIC, configNames: ['retention.ms'] }],
    });
    expect(cfg.resources[0]!.configEntries[0]!.configValue).toBe('3600000');
  });

  it('finds a published marker among other messages and cleans up its consumer group', LONG, async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: PROBE_TOPIC, messages: [{ value: cloudEvent('probe-older-run') }, { value: cloudEvent('probe-this-run') }] });
    await producer.disconnect();
    const r = await findMarker(session, 'probe-this-run', 30_000);
    expect(r).toEqual({ found: true, scanned: 2 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    expect(groups.filter((g) => g.startsWith(PROBE_GROUP_PREFIX))).toEqual([]);
  });

  it('reports a marker that never arrived as not found, within its bound', LONG, async () => {
    const started = Date.now();
    const r = await findMarker(session, 'probe-never-published', 4_000);
    expect(r.found).toBe(false);
    expect(r.scanned).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
