// Reconcile planning as a pure function (catalogue + what the cluster has -> actions), its application through
// a fake admin, and verify's per-topic comparison.

import { describe, expect, it } from 'vitest';
import { StepError } from '../../scripts/lib/core/errors.js';
import type { CatalogueTopic } from '../../scripts/lib/components/kafka/catalogue.js';
import { describeTopic, topicDifferences } from '../../scripts/lib/components/kafka/checks.js';
import { applyPlan, describeAction, planReconcile, type ObservedTopic, type ReconcileAdmin } from '../../scripts/lib/components/kafka/reconcile.js';

const DAY = 86_400_000;
const topic = (name: string, over: Partial<CatalogueTopic> = {}): CatalogueTopic => ({
  name,
  partitions: 6,
  retentionMs: 7 * DAY,
  compression: 'snappy',
  cleanupPolicy: 'delete',
  config: {},
  ...over,
});

/** A topic as describeConfigs reports it: our settings at topic level, the rest inherited. */
function observed(
  t: CatalogueTopic,
  over: { partitions?: number; rf?: number; configs?: Record<string, string | null>; topicLevel?: Record<string, string> } = {},
): ObservedTopic {
  const rf = over.rf ?? 1;
  const configs: ObservedTopic['configs'] = {
    'retention.ms': { value: String(t.retentionMs), topicLevel: true },
    'compression.type': { value: t.compression, topicLevel: true },
    'cleanup.policy': { value: t.cleanupPolicy, topicLevel: true },
    'min.insync.replicas': { value: rf >= 3 ? '2' : '1', topicLevel: true },
    'max.message.bytes': { value: '1048588', topicLevel: false },
    'segment.bytes': { value: '1073741824', topicLevel: false },
  };
  for (const [k, v] of Object.entries(over.configs ?? {})) configs[k] = { value: v, topicLevel: configs[k]?.topicLevel ?? false };
  for (const [k, v] of Object.entries(over.topicLevel ?? {})) configs[k] = { value: v, topicLevel: true };
  return { name: t.name, partitions: over.partitions ?? t.partitions, replicationFactor: rf, configs };
}

const A = topic('learning.queries');
const B = topic('dead-letter.queue', { retentionMs: 30 * DAY, compression: 'gzip', partitions: 3 });

describe('planReconcile', () => {
  it('creates what is missing with replication from the broker count (1 -> 1/1, 3 -> 3/2)', () => {
    const one = planReconcile([A, B], new Map(), 1);
    expect(one.actions).toEqual([
      {
        kind: 'create',
        topic: 'learning.queries',
        partitions: 6,
        replicationFactor: 1,
        configs: { 'retention.ms': String(7 * DAY), 'compression.type': 'snappy', 'cleanup.policy': 'delete', 'min.insync.replicas': '1' },
      },
      {
        kind: 'create',
        topic: 'dead-letter.queue',
        partitions: 3,
        replicationFactor: 1,
        configs: { 'retention.ms': String(30 * DAY), 'compression.type': 'gzip', 'cleanup.policy': 'delete', 'min.insync.replicas': '1' },
      },
    ]);
    const three = planReconcile([A], new Map(), 3);
    expect(three.actions[0]).toMatchObject({ kind: 'create', replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    expect(one.refused).toEqual([]);
    expect(one.warnings).toEqual([]);
  });

  it('leaves a topic that matches unchanged (inherited defaults are not compared)', () => {
    const plan = planReconcile(
      [A, B],
      new Map([
        [A.name, observed(A)],
        [B.name, observed(B)],
      ]),
      1,
    );
    expect(plan.actions).toEqual([
      { kind: 'unchanged', topic: 'learning.queries' },
      { kind: 'unchanged', topic: 'dead-letter.queue' },
    ]);
  });

  it('raises a grown partition count without touching settings', () => {
    const plan = planReconcile([topic(A.name, { partitions: 8 })], new Map([[A.name, observed(A)]]), 1);
    expect(plan.actions).toEqual([{ kind: 'update', topic: A.name, partitions: { from: 6, to: 8 }, configChanges: [] }]);
    expect(describeAction(plan.actions[0]!)).toBe('partitions 6 -> 8');
  });

  it('updates a changed setting and sends the topic-level settings it already had (AlterConfigs replaces the set)', () => {
    const have = observed(A, { topicLevel: { 'max.message.bytes': '10485760' } });
    const plan = planReconcile([topic(A.name, { retentionMs: 3 * DAY })], new Map([[A.name, have]]), 1);
    expect(plan.actions).toEqual([
      {
        kind: 'update',
        topic: A.name,
        configChanges: [{ name: 'retention.ms', from: String(7 * DAY), to: String(3 * DAY) }],
        alterConfigs: {
          'retention.ms': String(3 * DAY),
          'compression.type': 'snappy',
          'cleanup.policy': 'delete',
          'min.insync.replicas': '1',
          'max.message.bytes': '10485760',
        },
      },
    ]);
    // inherited values (segment.bytes, the default max.message.bytes) are not pinned on the topic
    expect(describeAction(plan.actions[0]!)).toBe('retention.ms 7d -> 3d');
  });

  it('sets a setting that is only inherited today, and extra catalogue settings', () => {
    const want = topic(A.name, { config: { 'max.message.bytes': '10485760' } });
    const plan = planReconcile([want], new Map([[A.name, observed(A, { configs: { 'compression.type': 'producer' } })]]), 1);
    const action = plan.actions[0]!;
    expect(action.kind).toBe('update');
    if (action.kind !== 'update') return;
    expect(action.configChanges.map((c) => c.name)).toEqual(['compression.type', 'max.message.bytes']);
    expect(action.alterConfigs).toMatchObject({ 'compression.type': 'snappy', 'max.message.bytes': '10485760' });
  });

  it('treats cleanup.policy lists as sets', () => {
    const want = topic(A.name, { cleanupPolicy: 'compact,delete' });
    const plan = planReconcile([want], new Map([[A.name, observed(want, { topicLevel: { 'cleanup.policy': 'delete,compact' } })]]), 1);
    expect(plan.actions).toEqual([{ kind: 'unchanged', topic: A.name }]);
  });

  it('refuses to shrink partitions and names the topic', () => {
    const plan = planReconcile([topic(A.name, { partitions: 3 }), B], new Map([[A.name, observed(A)]]), 1);
    expect(plan.refused).toEqual(['topic learning.queries has 6 partitions and the catalogue asks for 3: Kafka cannot remove partitions']);
  });

  it('warns about a replication factor it cannot change, and keeps min ISR within the actual replicas', () => {
    const plan = planReconcile([A], new Map([[A.name, observed(A, { rf: 1 })]]), 3);
    expect(plan.warnings).toEqual([expect.stringMatching(/^topic learning\.queries has replication factor 1, 3 expected with 3 broker\(s\)/)]);
    expect(plan.actions).toEqual([{ kind: 'unchanged', topic: A.name }]);
    const raised = planReconcile([A], new Map([[A.name, observed(A, { rf: 3, configs: { 'min.insync.replicas': '1' } })]]), 3);
    expect(raised.actions[0]).toMatchObject({ kind: 'update', configChanges: [{ name: 'min.insync.replicas', from: '1', to: '2' }] });
  });

  it('never plans a deletion: topics outside the catalogue are not looked at', () => {
    const stray = topic('someone.elses');
    const plan = planReconcile(
      [A],
      new Map([
        [A.name, observed(A)],
        [stray.name, observed(stray)],
      ]),
      1,
    );
    expect(plan.actions.map((a) => a.topic)).toEqual([A.name]);
  });
});

function fakeAdmin(fail?: string, type = 'INVALID_CONFIG') {
  const calls: string[] = [];
  const admin: ReconcileAdmin = {
    createTopics: async (o) => {
      calls.push(
        `create ${o.topics.map((t) => `${t.topic}/${t.numPartitions}/${t.replicationFactor}/${t.configEntries?.map((c) => `${c.name}=${c.value}`).join('&')}`).join(',')}`,
      );
      if (fail) throw Object.assign(new Error(fail), { type });
      return true;
    },
    createPartitions: async (o) => {
      calls.push(`partitions ${o.topicPartitions.map((t) => `${t.topic}=${t.count}`).join(',')}`);
      return true;
    },
    alterConfigs: async (o) => {
      calls.push(`alter ${o.resources.map((r) => `${r.type}:${r.name}:${r.configEntries.map((c) => `${c.name}=${c.value}`).join('&')}`).join(',')}`);
      return { resources: [], throttleTime: 0 };
    },
  };
  return { admin, calls };
}

describe('applyPlan', () => {
  it('creates, raises partitions, alters settings and reports each topic', async () => {
    const { admin, calls } = fakeAdmin();
    const grown = topic('exercise.grading', { partitions: 4, retentionMs: 3 * DAY });
    const plan = planReconcile(
      [A, grown, B],
      new Map([
        [grown.name, observed(topic(grown.name, { partitions: 3 }))],
        [B.name, observed(B)],
      ]),
      1,
    );
    const outcome = await applyPlan(admin, plan);
    expect(outcome).toEqual({ 'learning.queries': 'created', 'exercise.grading': 'updated', 'dead-letter.queue': 'unchanged' });
    expect(calls).toEqual([
      `create learning.queries/6/1/retention.ms=${7 * DAY}&compression.type=snappy&cleanup.policy=delete&min.insync.replicas=1`,
      'partitions exercise.grading=4',
      `alter 2:exercise.grading:retention.ms=${3 * DAY}&compression.type=snappy&cleanup.policy=delete&min.insync.replicas=1`,
    ]);
  });

  it('changes nothing when the plan refuses something', async () => {
    const { admin, calls } = fakeAdmin();
    const plan = planReconcile([topic('new.one'), topic(A.name, { partitions: 1 })], new Map([[A.name, observed(A)]]), 1);
    await expect(applyPlan(admin, plan)).rejects.toThrow(StepError);
    expect(calls).toEqual([]);
  });

  it('names the topic and what it was doing when Kafka refuses', async () => {
    const { admin } = fakeAdmin('Invalid config');
    await expect(applyPlan(admin, planReconcile([A], new Map(), 1))).rejects.toThrow(
      /^creating topic learning\.queries \(create: 6 partition\(s\).*\) failed: Invalid config \(INVALID_CONFIG\)/,
    );
  });
});

describe('applyPlan: as few admin calls as the API allows', () => {
  it('one CreateTopics for every missing topic, one CreatePartitions and one AlterConfigs for every drifted one', async () => {
    const { admin, calls } = fakeAdmin();
    const missing = ['a.one', 'a.two', 'a.three'].map((n) => topic(n));
    const grown = ['g.one', 'g.two'].map((n) => topic(n, { partitions: 8, retentionMs: 3 * DAY }));
    const observedTopics = new Map(grown.map((g) => [g.name, observed(topic(g.name, { partitions: 2 }))]));
    const outcome = await applyPlan(admin, planReconcile([...missing, ...grown], observedTopics, 1));
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['create', 'partitions', 'alter']);
    expect(calls[0]).toMatch(/^create a\.one\/.*,a\.two\/.*,a\.three\//);
    expect(Object.keys(outcome)).toEqual(['a.one', 'a.two', 'a.three', 'g.one', 'g.two']);
  });
});

describe('applyPlan: a busy broker', () => {
  it('counts a topic as created when only the wait for its leaders ran out', async () => {
    const { admin } = fakeAdmin('This server does not host this topic-partition', 'UNKNOWN_TOPIC_OR_PARTITION');
    expect(await applyPlan(admin, planReconcile([A], new Map(), 1))).toEqual({ 'learning.queries': 'created' });
  });
});

describe('verify: topicDifferences', () => {
  it('is empty when the topic matches, and describes it', () => {
    expect(topicDifferences(A, observed(A), 1)).toEqual([]);
    expect(describeTopic(observed(A))).toBe('6 partition(s) with leaders, replication factor 1 in sync, retention 7d, snappy, delete, min ISR 1');
  });

  it('says "missing" for a topic that is not there', () => {
    expect(topicDifferences(A, undefined, 1)).toEqual(['missing']);
  });

  it('names every difference', () => {
    const have = observed(A, { partitions: 3, rf: 1, configs: { 'retention.ms': String(DAY), 'compression.type': 'producer' } });
    expect(topicDifferences(A, have, 3)).toEqual([
      '3 partition(s), the catalogue says 6',
      'replication factor 1, expected 3 with 3 broker(s)',
      'retention.ms is 1d, expected 7d',
      'compression.type is producer, expected snappy',
    ]);
  });
});
