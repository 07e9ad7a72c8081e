// Catalogue vs. the cluster: a pure plan (create / update / unchanged per topic, and what is refused), applied through
// the admin API by reconcileTopics (deploy's topic step). Never deletes a topic or a partition.

import kafkajs, { type Admin, type ITopicMetadata } from 'kafkajs';
import { StepError } from '../../core/errors.js';
import { desiredConfigs, formatRetention, normaliseCleanup, type CatalogueTopic, type Catalogue } from './catalogue.js';
import { kafkaFailure, TOPIC_RESOURCE, connectKafka, openEndpoint, waitForBrokers, withSession } from '../shared/kafka-client.js';
import { replicationFor } from '../shared/kafka-topology.js';
import type { StepCtx } from '../../run/context.js';

const { ConfigSource } = kafkajs;

export interface ObservedConfig {
  value: string | null;
  /** Set on the topic itself (not inherited from the broker or Kafka's defaults). */
  topicLevel: boolean;
}

export interface ObservedTopic {
  name: string;
  partitions: number;
  /** The smallest replica count over its partitions. */
  replicationFactor: number;
  configs: Record<string, ObservedConfig>;
  /** Partitions with no leader (unreadable, unwritable) and with fewer in-sync replicas than replicas. */
  leaderless?: number;
  underReplicated?: number;
}

export interface ConfigChange {
  name: string;
  from: string | null;
  to: string;
}

export type TopicAction =
  | { kind: 'create'; topic: string; partitions: number; replicationFactor: number; configs: Record<string, string> }
  | {
      kind: 'update';
      topic: string;
      partitions?: { from: number; to: number };
      configChanges: ConfigChange[];
      /**
       * The topic's complete set of topic-level settings after the change. kafkajs only has the legacy
       * AlterConfigs, which REPLACES a topic's whole set: the settings it already had are sent along.
       */
      alterConfigs?: Record<string, string>;
    }
  | { kind: 'unchanged'; topic: string };

export interface ReconcilePlan {
  actions: TopicAction[];
  /** Changes the catalogue asks for that Kafka cannot make (fewer partitions): nothing is applied. */
  refused: string[];
  /** Deviations the kit reports but does not fix (replication factor of an existing topic). */
  warnings: string[];
}

export function sameValue(name: string, a: string | null | undefined, b: string | null | undefined): boolean {
  if (a == null || b == null) return a == b;
  if (name === 'cleanup.policy') return normaliseCleanup(a) === normaliseCleanup(b);
  return a === b;
}

export function showValue(name: string, value: string | null): string {
  if (value === null) return '(unset)';
  if (name === 'retention.ms' && /^\d+$/.test(value)) return formatRetention(Number(value));
  return value;
}

/** Managed settings whose value differs. min.insync.replicas follows the topic's actual replication factor. */
export function configChanges(topic: CatalogueTopic, observed: ObservedTopic): ConfigChange[] {
  const want = desiredConfigs(topic, observed.replicationFactor);
  return Object.entries(want)
    .filter(([name, value]) => !sameValue(name, observed.configs[name]?.value, value))
    .map(([name, to]) => ({ name, from: observed.configs[name]?.value ?? null, to }));
}

export function planReconcile(catalogue: readonly CatalogueTopic[], observed: ReadonlyMap<string, ObservedTopic>, brokers: number): ReconcilePlan {
  const { replicationFactor } = replicationFor(brokers);
  const plan: ReconcilePlan = { actions: [], refused: [], warnings: [] };
  for (const topic of catalogue) {
    const have = observed.get(topic.name);
    if (!have) {
      plan.actions.push({
        kind: 'create',
        topic: topic.name,
        partitions: topic.partitions,
        replicationFactor,
        configs: desiredConfigs(topic, replicationFactor),
      });
      continue;
    }
    if (topic.partitions < have.partitions) {
      plan.refused.push(`topic ${topic.name} has ${have.partitions} partitions and the catalogue asks for ${topic.partitions}: Kafka cannot remove partitions`);
    }
    if (have.replicationFactor !== replicationFactor) {
      plan.warnings.push(
        `topic ${topic.name} has replication factor ${have.replicationFactor}, ${replicationFactor} expected with ${brokers} broker(s); the kit does not move replicas (docs/kafka.md#replication)`,
      );
    }
    const changes = configChanges(topic, have);
    const grow = topic.partitions > have.partitions ? { from: have.partitions, to: topic.partitions } : undefined;
    if (!grow && changes.length === 0) {
      plan.actions.push({ kind: 'unchanged', topic: topic.name });
      continue;
    }
    const action: TopicAction = { kind: 'update', topic: topic.name, configChanges: changes, ...(grow ? { partitions: grow } : {}) };
    if (changes.length) {
      const kept = Object.fromEntries(Object.entries(have.configs).filter(([, c]) => c.topicLevel && c.value !== null) as [string, { value: string }][]);
      action.alterConfigs = {
        ...Object.fromEntries(Object.entries(kept).map(([k, c]) => [k, c.value])),
        ...Object.fromEntries(changes.map((c) => [c.name, c.to])),
      };
    }
    plan.actions.push(action);
  }
  return plan;
}

export function describeAction(a: TopicAction): string {
  switch (a.kind) {
    case 'create':
      return `create: ${a.partitions} partition(s), replication factor ${a.replicationFactor}, ${Object.entries(a.configs)
        .map(([k, v]) => `${k}=${showValue(k, v)}`)
        .join(', ')}`;
    case 'update':
      return [
        ...(a.partitions ? [`partitions ${a.partitions.from} -> ${a.partitions.to}`] : []),
        ...a.configChanges.map((c) => `${c.name} ${showValue(c.name, c.from)} -> ${showValue(c.name, c.to)}`),
      ].join('; ');
    case 'unchanged':
      return 'unchanged';
  }
}

export type TopicOutcome = 'created' | 'updated' | 'unchanged';

export type ReconcileAdmin = Pick<Admin, 'createTopics' | 'createPartitions' | 'alterConfigs'>;

export const ADMIN_TIMEOUT_MS = 10_000;
const LEADER_WAIT_ERRORS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Applies the plan in as few admin calls as the API allows: one CreateTopics for every missing topic, one
 * CreatePartitions for every topic that grows, one AlterConfigs for every topic whose settings drifted.
 */
export async function applyPlan(admin: ReconcileAdmin, plan: ReconcilePlan, onApply?: (a: TopicAction) => void): Promise<Record<string, TopicOutcome>> {
  if (plan.refused.length) throw new StepError(plan.refused.join('; '), { docs: 'kafka-partitions-shrink' });
  const outcome: Record<string, TopicOutcome> = {};
  const changing = plan.actions.filter((a) => a.kind !== 'unchanged');
  for (const a of plan.actions) if (a.kind === 'unchanged') outcome[a.topic] = 'unchanged';
  for (const a of changing) onApply?.(a);
  const creates = changing.filter((a): a is Extract<TopicAction, { kind: 'create' }> => a.kind === 'create');
  const updates = changing.filter((a): a is Extract<TopicAction, { kind: 'update' }> => a.kind === 'update');
  const names = (xs: readonly TopicAction[]) => xs.map((a) => `${a.topic} (${describeAction(a)})`).join('; ');
  if (creates.length) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        timeout: ADMIN_TIMEOUT_MS,
        topics: creates.map((a) => ({
          topic: a.topic,
          numPartitions: a.partitions,
          replicationFactor: a.replicationFactor,
          configEntries: Object.entries(a.configs).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (err) {
      // These come only from kafkajs's wait for leaders, after the broker accepted the topics
      // (a busy KRaft broker may take longer than kafkajs's retries): created; verify checks them.
      if (!LEADER_WAIT_ERRORS.has((err as { type?: string }).type ?? ''))
        throw kafkaFailure(`creating topic${creates.length > 1 ? 's' : ''} ${names(creates)}`, err);
    }
    for (const a of creates) outcome[a.topic] = 'created';
  }
  const grow = updates.filter((a) => a.partitions);
  if (grow.length) {
    await admin
      .createPartitions({ timeout: ADMIN_TIMEOUT_MS, topicPartitions: grow.map((a) => ({ topic: a.topic, count: a.partitions!.to })) })
      .catch((err: unknown) => {
        throw kafkaFailure(`adding partitions to ${names(grow)}`, err);
      });
  }
  const alter = updates.filter((a) => a.alterConfigs);
  if (alter.length) {
    await admin
      .alterConfigs({
        validateOnly: false,
        resources: alter.map((a) => ({
          type: TOPIC_RESOURCE,
          name: a.topic,
          configEntries: Object.entries(a.alterConfigs!).map(([name, value]) => ({ name, value })),
        })),
      })
      .catch((err: unknown) => {
        throw kafkaFailure(`updating the settings of ${names(alter)}`, err);
      });
  }
  for (const a of updates) outcome[a.topic] = 'updated';
  // In catalogue order, as the plan lists them.
  return Object.fromEntries(plan.actions.map((a) => [a.topic, outcome[a.topic]!]));
}

/** The catalogue's topics as the cluster has them: partitions, replicas, leaders, in-sync replicas, settings. */
export async function observeTopics(admin: Admin, names: readonly string[]): Promise<Map<string, ObservedTopic>> {
  const existing = new Set(await admin.listTopics());
  const present = names.filter((n) => existing.has(n));
  const out = new Map<string, ObservedTopic>();
  if (!present.length) return out;
  const meta = await admin.fetchTopicMetadata({ topics: present });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((name) => ({ type: TOPIC_RESOURCE, name })),
  });
  const byName = new Map(configs.resources.map((r) => [r.resourceName, r]));
  for (const t of meta.topics as ITopicMetadata[]) {
    const r = byName.get(t.name);
    if (r && r.errorCode !== 0) throw new Error(`describing the settings of topic ${t.name}: ${r.errorMessage ?? `error code ${r.errorCode}`}`);
    out.set(t.name, {
      name: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.partitions.length ? Math.min(...t.partitions.map((p) => p.replicas.length)) : 0,
      leaderless: t.partitions.filter((p) => p.leader < 0).length,
      underReplicated: t.partitions.filter((p) => p.isr.length < p.replicas.length).length,
      configs: Object.fromEntries(
        (r?.configEntries ?? []).map((e) => [e.configName, { value: e.configValue ?? null, topicLevel: e.configSource === ConfigSource.TOPIC_CONFIG }]),
      ),
    });
  }
  return out;
}

export async function reconcileTopics(step: StepCtx, catalogue: Catalogue, replicas: number): Promise<void> {
  const endpoint = await openEndpoint(step, replicas);
  const session = await connectKafka(step, endpoint);
  await withSession(session, async (s) => {
    if (!step.config.noCluster) await waitForBrokers(step, s, replicas);
    const brokers = s.brokers.length;
    step.log.info(`connected to Kafka cluster ${s.clusterId} (${brokers} broker(s)) via ${endpoint.via}`);
    await endpoint.ensure();
    const observed = await observeTopics(
      s.admin,
      catalogue.topics.map((t) => t.name),
    ).catch((err: unknown) => {
      throw kafkaFailure('reading the topics', err, { fix: endpoint.fix, docs: 'kafka-unreachable' });
    });
    const plan = planReconcile(catalogue.topics, observed, brokers);
    for (const w of plan.warnings) step.log.warn(w);
    if (plan.refused.length) {
      throw new StepError(`${catalogue.source} asks for what Kafka cannot do; nothing was changed:\n${plan.refused.map((r) => `  - ${r}`).join('\n')}`, {
        fix: `set those partition counts back to what the topics have in ${catalogue.source} (or delete and recreate the topic by hand, losing its messages)`,
        docs: 'kafka-partitions-shrink',
      });
    }
    const outcome = await applyPlan(s.admin, plan, (a) => step.log.info(`topic ${a.topic}: ${describeAction(a)}`));
    const counts: Record<TopicOutcome, number> = { created: 0, updated: 0, unchanged: 0 };
    for (const t of catalogue.topics) {
      const what = outcome[t.name]!;
      counts[what]++;
      step.change(`topic ${t.name}`, what);
    }
    step.log.ok(`${catalogue.topics.length} topics: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`);
  });
}
