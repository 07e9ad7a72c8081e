// kafkajs as the kit uses it: bounded timeouts and retries (a dead broker is reported within seconds, not after
// kafkajs's default minute of retries), its logger routed to the debug log, failures as StepErrors saying what was
// being done, and the brokers reached by --kafka-brokers or one port-forward per broker to its LOCAL listener.

import kafkajs, { type Admin, type Kafka, type KafkaConfig, type KafkaMessage } from 'kafkajs';
import SnappyCodec from 'kafkajs-snappy';
import { waitInStep } from '../../run/rollout.js';
import type { StepCtx } from '../../run/context.js';
import { errorMessage, KitError, StepError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { localPortInUse, PortForward } from '../../run/port-forward.js';
import { withTimeout } from '../../core/wait.js';
import { laptopPorts } from './stack-record.js';
import { deployedClusterId, KAFKA_SELECTOR, LOCAL_HOST, podName, portForwardTargets, replicationFor, STATEFULSET } from './kafka-topology.js';

const { Kafka: KafkaClient, logLevel, ConfigResourceTypes, CompressionCodecs, CompressionTypes } = kafkajs;

// The event topics are compression.type=snappy, so the broker stores them snappy-compressed whatever the
// producer sent, and kafkajs has no snappy codec of its own: without this every read fails with "Snappy
// compression not implemented". Any LearnFlow service on kafkajs needs the same line (docs/kafka.md#clients).
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

export const CLIENT_ID = 'learnflow-kit';
export const TOPIC_RESOURCE = ConfigResourceTypes.TOPIC;
/** Bound for connect + describeCluster and each later metadata read: a dead or hung broker is reported within 15 s. */
export const CONNECT_TIMEOUT_MS = 12_000;

export const CLIENT_SETTINGS: Pick<KafkaConfig, 'connectionTimeout' | 'requestTimeout' | 'enforceRequestTimeout' | 'retry'> = {
  connectionTimeout: 3_000,
  requestTimeout: 10_000,
  enforceRequestTimeout: true,
  // 4 attempts, ~2 s of back-off in all: enough for a broker that is just starting, short for a dead one.
  retry: { retries: 3, initialRetryTime: 250, maxRetryTime: 1_000, factor: 0.2, multiplier: 2 },
};

export function createKafka(brokers: readonly string[], log: Logger): Kafka {
  return new KafkaClient({
    clientId: CLIENT_ID,
    brokers: [...brokers],
    ...CLIENT_SETTINGS,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => log.debug(`kafkajs ${entry.namespace}: ${entry.log.message}`),
  });
}

/** The message of a kafkajs error with what it wraps (retries exceeded, aggregate errors). */
export function explainKafkaError(err: unknown): string {
  const e = err as { message?: string; originalError?: unknown; errors?: unknown[]; type?: string };
  if (e?.originalError) return explainKafkaError(e.originalError);
  if (Array.isArray(e?.errors) && e.errors.length) return [...new Set(e.errors.map(explainKafkaError))].join('; ');
  const msg = errorMessage(err);
  return e?.type && !msg.includes(e.type) ? `${msg} (${e.type})` : msg;
}

export function kafkaFailure(what: string, err: unknown, details: { fix?: string; docs?: string } = {}): KitError {
  if (err instanceof KitError) return err;
  return new StepError(`${what} failed: ${explainKafkaError(err)}`, { cause: err, ...details });
}

export interface KafkaEndpoint {
  brokers: string[];
  /** How the brokers are reached, for messages. */
  via: string;
  /** What to try when they cannot be reached. */
  fix: string;
  /** Re-opens dropped port-forwards (no-op for --kafka-brokers). */
  ensure(): Promise<void>;
  /** Reusing a port-forward someone else opened: the broker must prove it is ours by its cluster id. */
  expectClusterId?: string;
}

/**
 * --kafka-brokers when given; else one port-forward per broker, local base+i -> pod/kafka-i:base+i, the port its
 * LOCAL listener advertises as 127.0.0.1:base+i (base: the stack's laptop port, from its record). Then every address
 * a client learns from the metadata works.
 */
export async function openEndpoint(step: StepCtx, brokers: number): Promise<KafkaEndpoint> {
  const ns = step.config.namespace;
  if (step.config.kafkaBrokers) {
    return {
      brokers: step.config.kafkaBrokers,
      via: `--kafka-brokers ${step.config.kafkaBrokers.join(',')}`,
      fix: 'check that the broker runs and that --kafka-brokers (or LEARNFLOW_KAFKA_BROKERS) names its address',
      ensure: async () => {},
    };
  }
  const targets = portForwardTargets(brokers, (await laptopPorts(step)).kafka);
  // scripts/port-forward.mts may already hold these fixed ports: reuse its forwards rather than fail, once the
  // broker behind them shows the cluster id of this namespace's Kafka (checked in connectKafka).
  if ((await Promise.all(targets.map((t) => localPortInUse(t.localPort!)))).every(Boolean)) {
    const list = targets.map((t) => `${LOCAL_HOST}:${t.localPort}`);
    step.log.info(`reusing the port-forward(s) already open on ${list.join(', ')} (scripts/port-forward.mts?)`);
    return {
      brokers: list,
      via: `the existing port-forward(s) on ${list.join(',')}`,
      fix: `./scripts/port-forward.mts status; stop it (./scripts/port-forward.mts stop) to let the kit open its own`,
      ensure: async () => {},
      // The id the deployed StatefulSet runs with (random per stack): another cluster's Kafka in a namespace of the
      // same name has another one. None deployed: nothing to compare with, so not reused.
      expectClusterId: deployedClusterId(await step.kube.getOptional('statefulset', STATEFULSET)) ?? 'none: no statefulset/kafka is deployed in this namespace',
    };
  }
  const forwards = targets.map((t) => new PortForward(step, t));
  await Promise.all(
    forwards.map(async (f) => {
      try {
        await f.start();
      } catch (err) {
        throw new StepError(`${errorMessage(err)}`, {
          fix: `if something already listens on ${LOCAL_HOST}:${f.target.localPort} (a running scripts/port-forward.mts?), stop it, or reuse it with --kafka-brokers ${LOCAL_HOST}:${f.target.localPort}`,
          docs: 'port-forward-drops',
        });
      }
    }),
  );
  const list = forwards.map((f) => `${LOCAL_HOST}:${f.localPort}`);
  step.log.info(`port-forward ${forwards.map((f) => `${LOCAL_HOST}:${f.localPort} -> ${f.target.resource}:${f.target.remotePort}`).join(', ')}`);
  return {
    brokers: list,
    via: `port-forward ${list.join(',')}`,
    fix: `kubectl get pods -n ${ns} -l ${KAFKA_SELECTOR}; kubectl logs -n ${ns} ${podName(0)} --tail=50`,
    ensure: async () => {
      for (const f of forwards) await f.ensure();
    },
  };
}

export interface KafkaSession {
  kafka: Kafka;
  admin: Admin;
  endpoint: KafkaEndpoint;
  brokers: { nodeId: number; host: string; port: number }[];
  clusterId: string;
  close(): Promise<void>;
}

/** Connects an admin client and reads the cluster's brokers, or fails with a clear error within ~12 s. */
export async function connectKafka(step: StepCtx, endpoint: KafkaEndpoint): Promise<KafkaSession> {
  const kafka = createKafka(endpoint.brokers, step.log);
  const admin = kafka.admin({ retry: CLIENT_SETTINGS.retry });
  const close = async () => {
    await withTimeout(admin.disconnect(), 5_000, 'disconnecting').catch(() => {});
  };
  try {
    let stage = `connecting to ${endpoint.brokers.join(',')}`;
    const cluster = await withTimeout(
      (async () => {
        await admin.connect();
        stage = 'reading the cluster metadata';
        return admin.describeCluster();
      })(),
      CONNECT_TIMEOUT_MS,
      () => stage,
    );
    if (endpoint.expectClusterId && cluster.clusterId !== endpoint.expectClusterId) {
      await close();
      throw new StepError(
        `the Kafka behind ${endpoint.via} is not the one in namespace ${step.config.namespace} (cluster id ${cluster.clusterId}, expected ${endpoint.expectClusterId})`,
        {
          fix: `free the port(s) (./scripts/port-forward.mts stop, or stop whatever listens there) or point at it explicitly with --kafka-brokers`,
          docs: 'port-forward-drops',
        },
      );
    }
    return { kafka, admin, endpoint, brokers: cluster.brokers, clusterId: cluster.clusterId, close };
  } catch (err) {
    if (err instanceof StepError) throw err;
    await close();
    throw new StepError(`cannot reach Kafka at ${endpoint.brokers.join(',')} (${endpoint.via}): ${explainKafkaError(err)}`, {
      fix: endpoint.fix,
      docs: 'kafka-unreachable',
      cause: err,
    });
  }
}

/** Waits (within the step's deadline) until the metadata lists `expected` brokers: pods can be Ready a little before. */
export async function waitForBrokers(step: StepCtx, session: KafkaSession, expected: number): Promise<void> {
  if (session.brokers.length >= expected) return;
  await waitInStep(step, {
    what: `${expected} broker(s) in the Kafka metadata`,
    intervalMs: 1_000,
    probe: async () => {
      await session.endpoint.ensure();
      const c = await withTimeout(session.admin.describeCluster(), CONNECT_TIMEOUT_MS, 'reading the cluster metadata');
      session.brokers = c.brokers;
      return { done: c.brokers.length >= expected, state: `${c.brokers.length} of ${expected} broker(s) registered` };
    },
  });
}

/** Creates one of the kit's own topics (not in the catalogue) when missing. Returns whether it was created. */
export async function ensureOwnTopic(admin: Admin, topic: string, brokers: number, retentionMs: number): Promise<boolean> {
  const { replicationFactor } = replicationFor(brokers);
  return withTimeout(
    admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, replicationFactor, configEntries: [{ name: 'retention.ms', value: String(retentionMs) }] }],
    }),
    15_000,
    `creating topic ${topic}`,
  );
}

export async function withSession<T>(session: KafkaSession, fn: (s: KafkaSession) => Promise<T>): Promise<T> {
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** Where a consumer found a message. */
export interface FoundAt {
  partition: number;
  offset: string;
}

/**
 * Reads `topic` with a fresh consumer group until `match` accepts a message, or until `timeoutMs` has passed (found:
 * undefined). With `from`, reading starts at that partition's offset, sought at once and again whenever the group
 * (re)joins: a consumer restarted after a retriable error is a new member that has forgotten the seek. Without it,
 * at the topic's start. The group is deleted afterwards (best effort).
 */
export async function consumeUntil(
  session: Pick<KafkaSession, 'kafka' | 'admin'>,
  o: { topic: string; groupId: string; match: (m: KafkaMessage) => boolean; timeoutMs: number; from?: FoundAt; log?: Logger },
): Promise<{ found?: FoundAt; scanned: number }> {
  const consumer = session.kafka.consumer({
    groupId: o.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 250,
    // Joining can meet retriable errors on a fresh broker (GROUP_LOAD_IN_PROGRESS while __consumer_offsets is
    // created by the first group ever): retry and restart, within the bound.
    retry: { ...CLIENT_SETTINGS.retry, retries: 8, restartOnFailure: async () => true },
  });
  let scanned = 0;
  let joined = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await new Promise<FoundAt | undefined>((resolve, reject) => {
      timer = setTimeout(() => resolve(undefined), o.timeoutMs);
      timer.unref();
      consumer.on(consumer.events.CRASH, (e) => {
        if (e.payload.restart) o.log?.debug(`consumer ${o.groupId} restarts after: ${explainKafkaError(e.payload.error)}`);
        else reject(e.payload.error);
      });
      const from = o.from;
      const seek = () => from && consumer.seek({ topic: o.topic, partition: from.partition, offset: from.offset });
      (async () => {
        await consumer.connect();
        joined = true;
        await consumer.subscribe({ topics: [o.topic], fromBeginning: !from });
        // run() makes the group at once and joins in the background. The seek goes in right then, not after run()
        // settles: by then a retriable join error may have restarted the consumer, which has no group meanwhile.
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              scanned++;
              if (o.match(message)) resolve({ partition, offset: message.offset });
            },
          })
          .catch(reject);
        consumer.on(consumer.events.GROUP_JOIN, seek);
        seek();
      })().catch(reject);
    });
    return { found, scanned };
  } finally {
    clearTimeout(timer);
    await withTimeout(consumer.disconnect(), 5_000, 'disconnecting a consumer').catch(() => {});
    if (joined)
      await withTimeout(session.admin.deleteGroups([o.groupId]), 5_000, 'deleting a consumer group').catch((e: unknown) =>
        o.log?.debug(`consumer group ${o.groupId} not deleted: ${explainKafkaError(e)}`),
      );
  }
}
