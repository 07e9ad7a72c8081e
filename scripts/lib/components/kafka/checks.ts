// verify-kafka: the pods, the broker metadata, each catalogue topic as the cluster has it (read only), and a round
// trip on the kit's own topic. Application topics are written to only with --round-trip-app-topics: Dapr's subscriber
// ignores the kit's header, so the LearnFlow services would get the probe (one on exercise.submissions is graded).

import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '../../core/log.js';
import { formatRetention, type CatalogueTopic, type Catalogue } from './catalogue.js';
import {
  CLIENT_SETTINGS,
  consumeUntil,
  explainKafkaError,
  connectKafka,
  openEndpoint,
  type KafkaSession,
  withSession,
  ensureOwnTopic,
} from '../shared/kafka-client.js';
import { withTimeout } from '../../core/wait.js';
import { configChanges, showValue, type ObservedTopic, observeTopics } from './reconcile.js';
import { replicationFor, KAFKA_SELECTOR, STATEFULSET, VERIFY_TOPIC, VERIFY_TOPIC_RETENTION_MS, PROBE_GROUP_PREFIX } from '../shared/kafka-topology.js';

import { ROUND_TRIP_APP_TOPICS_FLAG } from './flags.js';
import type { StepCtx } from '../../run/context.js';
import { errorMessage } from '../../core/errors.js';
import { ensureClusterReachable } from '../../preflight/checks.js';
import { podReady, type PodJson } from '../../kube/pod-diagnosis.js';

const { Partitioners } = kafkajs;

/** Every probe message carries this header (value "true"), for tools that look; Dapr's subscriber does not. */
export const PROBE_HEADER = 'learnflow-kit-probe';
/** The probe's unique id, also its key. */
export const PROBE_ID_HEADER = 'learnflow-kit-probe-id';
export const ROUND_TRIP_TIMEOUT_MS = 20_000;

/** What differs between the catalogue and the cluster, one phrase per difference; [] when they agree. */
export function topicDifferences(topic: CatalogueTopic, observed: ObservedTopic | undefined, brokers: number): string[] {
  if (!observed) return ['missing'];
  const out: string[] = [];
  if (observed.partitions !== topic.partitions) out.push(`${observed.partitions} partition(s), the catalogue says ${topic.partitions}`);
  const { replicationFactor } = replicationFor(brokers);
  if (observed.replicationFactor !== replicationFactor)
    out.push(`replication factor ${observed.replicationFactor}, expected ${replicationFactor} with ${brokers} broker(s)`);
  for (const c of configChanges(topic, observed)) out.push(`${c.name} is ${showValue(c.name, c.from)}, expected ${showValue(c.name, c.to)}`);
  if (observed.leaderless) out.push(`${observed.leaderless} partition(s) without a leader`);
  if (observed.underReplicated) out.push(`${observed.underReplicated} partition(s) with fewer in-sync replicas than replicas`);
  return out;
}

export function describeTopic(t: ObservedTopic): string {
  const v = (k: string) => t.configs[k]?.value ?? '?';
  const retention = v('retention.ms');
  return `${t.partitions} partition(s) with leaders, replication factor ${t.replicationFactor} in sync, retention ${/^\d+$/.test(retention) ? formatRetention(Number(retention)) : retention}, ${v('compression.type')}, ${v('cleanup.policy')}, min ISR ${v('min.insync.replicas')}`;
}

export function createProbeProducer(kafka: Kafka): Producer {
  return kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, retry: CLIENT_SETTINGS.retry });
}

export interface RoundTripResult {
  ok: boolean;
  detail: string;
}

/**
 * Sends one probe (acks=all) and reads it back with a fresh group seeking to its offset (consumeUntil), so it neither
 * scans the topic nor races the group join. `timeoutMs` bounds the whole.
 */
export async function roundTrip(
  kafka: Kafka,
  producer: Producer,
  admin: Admin,
  topic: string,
  log: Logger,
  timeoutMs = ROUND_TRIP_TIMEOUT_MS,
): Promise<RoundTripResult> {
  const started = Date.now();
  const id = randomUUID();
  const groupId = `${PROBE_GROUP_PREFIX}${id}`;
  let stage = 'producing';
  try {
    const [sent] = await withTimeout(
      producer.send({
        topic,
        acks: -1,
        timeout: 10_000,
        messages: [
          {
            key: id,
            value: JSON.stringify({ probe: true, id, topic, sentAt: new Date(started).toISOString(), note: 'learnflow-kit verify-kafka round trip; ignore' }),
            headers: { [PROBE_HEADER]: 'true', [PROBE_ID_HEADER]: id },
          },
        ],
      }),
      timeoutMs,
      () => stage,
    );
    if (!sent) throw new Error('the broker acknowledged nothing');
    const offset = sent.baseOffset ?? sent.offset;
    if (offset === undefined) throw new Error('the broker returned no offset for the probe');
    stage = `consuming (partition ${sent.partition}, offset ${offset}, group ${groupId})`;
    const { found } = await consumeUntil(
      { kafka, admin },
      {
        topic,
        groupId,
        from: { partition: sent.partition, offset },
        match: (m) => m.headers?.[PROBE_ID_HEADER]?.toString() === id,
        timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
        log,
      },
    );
    if (!found) return { ok: false, detail: `no answer within ${timeoutMs / 1000}s while ${stage}` };
    return {
      ok: true,
      detail: `probe ${id.slice(0, 8)} sent and read back in ${Date.now() - started} ms (partition ${found.partition}, offset ${found.offset})`,
    };
  } catch (err) {
    const msg = explainKafkaError(err);
    return { ok: false, detail: msg.startsWith('no answer within') ? msg : `${stage}: ${msg}` };
  }
}

/** 'pods ready' check; returns the StatefulSet's broker count (undefined when there is none). */
export async function checkPods(step: StepCtx): Promise<number | undefined> {
  const ns = step.config.namespace;
  try {
    const sts = await step.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', STATEFULSET);
    if (!sts) {
      step.check('pods ready', false, `no statefulset/${STATEFULSET} in ${ns}: run ./scripts/deploy-kafka.mts`);
      return undefined;
    }
    const want = sts.spec?.replicas ?? 1;
    const pods = await step.kube.list<PodJson>('pod', { selector: KAFKA_SELECTOR });
    const ready = pods.filter(podReady);
    step.check(
      'pods ready',
      ready.length === want && pods.length === want,
      pods.length
        ? `${ready.length}/${want} ready: ${pods.map((p) => `${p.metadata.name} ${ready.includes(p) ? 'ready' : (p.status?.phase ?? 'unknown')}`).join(', ')}`
        : `no Kafka pod in ${ns}`,
    );
    return want;
  } catch (err) {
    step.check('pods ready', false, errorMessage(err).split('\n')[0]!);
    return undefined;
  }
}

/** verify-kafka: pods, broker metadata, every catalogue topic, and the round trip; every check recorded. */
export async function verifyKafka(step: StepCtx, catalogue: Catalogue): Promise<void> {
  let expected: number | undefined;
  if (!step.config.noCluster) {
    if (!step.preflighted) await ensureClusterReachable(step);
    expected = await checkPods(step);
  }

  let session: KafkaSession;
  try {
    session = await connectKafka(step, await openEndpoint(step, expected ?? 1));
  } catch (err) {
    step.check('broker metadata reachable', false, errorMessage(err).split('\n')[0]!);
    step.check('topics', false, 'not checked: no broker reachable');
    return;
  }
  await withSession(session, async (s) => {
    const ids = s.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
    const countOk = expected === undefined || s.brokers.length === expected;
    step.check(
      'broker metadata reachable',
      s.brokers.length > 0 && countOk,
      `${s.brokers.length}${expected === undefined ? '' : ` of ${expected}`} broker(s) (node ids ${ids.join(', ')}), cluster id ${s.clusterId}, via ${s.endpoint.via}`,
    );
    const brokers = Math.max(1, s.brokers.length);

    let observed;
    try {
      await s.endpoint.ensure();
      observed = await observeTopics(
        s.admin,
        catalogue.topics.map((t) => t.name),
      );
    } catch (err) {
      step.check('topics', false, `could not read the topics: ${explainKafkaError(err)}`);
      return;
    }
    for (const t of catalogue.topics) {
      const diffs = topicDifferences(t, observed.get(t.name), brokers);
      step.check(`topic ${t.name}`, diffs.length === 0, diffs.length ? diffs.join('; ') : describeTopic(observed.get(t.name)!));
    }

    // Application topics only with the explicit flag: their subscribers would receive the probe.
    const appTopics = step.config.options.on(ROUND_TRIP_APP_TOPICS_FLAG) ? catalogue.topics.map((t) => t.name) : [];
    const targets = [VERIFY_TOPIC, ...appTopics];
    try {
      const created = await ensureOwnTopic(s.admin, VERIFY_TOPIC, brokers, VERIFY_TOPIC_RETENTION_MS);
      if (created) step.log.info(`created the kit's own topic ${VERIFY_TOPIC} for the round trip`);
    } catch (err) {
      step.log.warn(`could not create ${VERIFY_TOPIC}: ${explainKafkaError(err)}`);
    }
    const producer = createProbeProducer(s.kafka);
    try {
      await withTimeout(producer.connect(), 10_000, 'connecting the probe producer');
    } catch (err) {
      for (const t of targets) step.check(`round trip ${t}`, false, `producer could not connect: ${explainKafkaError(err)}`);
      return;
    }
    try {
      if (appTopics.length)
        step.log.warn(
          `--round-trip-app-topics: writing a probe (header ${PROBE_HEADER}: true) into ${appTopics.length} application topic(s); running services will receive it`,
        );
      const results = await Promise.all(
        targets.map((t) =>
          t === VERIFY_TOPIC || observed.has(t)
            ? roundTrip(s.kafka, producer, s.admin, t, step.log)
            : Promise.resolve({ ok: false, detail: 'not attempted: the topic is missing' }),
        ),
      );
      targets.forEach((t, i) => step.check(`round trip ${t}`, results[i]!.ok, results[i]!.detail));
    } finally {
      await withTimeout(producer.disconnect(), 5_000, 'disconnecting the probe producer').catch(() => {});
    }
  });
}
