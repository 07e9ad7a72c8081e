// Kafka version upgrades: the running images against the pin, a roll of one broker at a time (highest ordinal
// first, each gated on every partition back in its ISR and the KRaft quorum caught up), then the metadata version.
//
// A partitioned RollingUpdate rather than OnDelete: applied with partition = replicas, the controller replaces no pod
// itself, and a broker that dies mid-roll comes back at the revision its ordinal is due. The kit lowers the partition
// one ordinal at a time; at 0 the StatefulSet is as a plain deploy renders it, so a re-run changes nothing.
//
// The gate runs kafka-topics.sh / kafka-metadata-quorum.sh through kubectl exec: the admin client would go through
// the port-forwards of the pods being restarted, and kafkajs has no DescribeQuorum. A broker opens its client port
// once it has the cluster metadata, not its replicas, so readiness (a TCP probe) says nothing about ISR: the gate
// is what spares acks=all producers NOT_ENOUGH_REPLICAS (min ISR 2 of 3).

import { formatDuration } from '../../core/duration.js';
import type { StepCtx } from '../../run/context.js';
import { StepError } from '../../core/errors.js';
import { waitForPod, waitInStep } from '../../run/rollout.js';
import { CLIENT_PORT, KAFKA_SELECTOR, podName, STATEFULSET } from '../shared/kafka-topology.js';
import { compareVersions } from '../../core/repo.js';

/** Set on the StatefulSet when a roll starts, removed once the metadata version is finalized: a re-run finishes it. */
export const FINALIZE_ANNOTATION = 'learnflow.dev/kafka-finalize-release';

/** What the deploy reads of the running brokers (the StatefulSet and its pods, in the deploy's one list). */
export interface LiveKafka {
  replicas: number;
  /** The StatefulSet's pod template image. */
  templateImage?: string;
  /** A metadata version still to finalize (FINALIZE_ANNOTATION). */
  pendingRelease?: string;
  pods: { name: string; image?: string }[];
}

export interface KafkaUpgrade {
  /** The versions the brokers run now (the template's and each pod's), sorted. */
  from: string[];
  to: string;
  /** major.minor of `to`: what kafka-features.sh finalizes. */
  release: string;
  /** false: every broker runs `to` already, only the metadata version is left (a roll that failed at the end). */
  roll: boolean;
  replicas: number;
}

export function versionOfImage(image: string | undefined): string | undefined {
  if (!image) return undefined;
  const noDigest = image.split('@')[0]!;
  const i = noDigest.lastIndexOf(':');
  return i > noDigest.lastIndexOf('/') ? noDigest.slice(i + 1) : undefined;
}

export function releaseOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * The upgrade a deploy must make, or none (a new stack, or everything at the pin). A downgrade and a major version
 * change are refused before anything is applied: a finalized metadata version cannot go back, and a major may
 * drop what the running one still uses (Kafka 4.0 dropped ZooKeeper and old protocol versions).
 */
export function planUpgrade(live: LiveKafka | undefined, pinnedImage: string, namespace: string): KafkaUpgrade | undefined {
  if (!live) return undefined;
  const to = versionOfImage(pinnedImage);
  if (!to) throw new Error(`the Kafka pin ${pinnedImage} has no version tag`);
  const images = [live.templateImage, ...live.pods.map((p) => p.image)].filter((i): i is string => Boolean(i));
  const from = [...new Set(images.map((i) => versionOfImage(i) ?? i))].sort(compareVersions);
  const differs = images.some((i) => i !== pinnedImage);
  const base = { to, release: releaseOf(to), replicas: live.replicas, from };
  if (!differs) return live.pendingRelease ? { ...base, roll: false } : undefined;
  const newer = from.filter((v) => compareVersions(v, to) > 0);
  if (newer.length)
    throw new StepError(
      `statefulset/${STATEFULSET} in ${namespace} runs Kafka ${newer.join(', ')}, newer than the kit's pin ${to}: the kit does not downgrade Kafka (its metadata version may be finalized beyond what ${to} reads); nothing was changed`,
      {
        fix: `pin Kafka back to ${newer[newer.length - 1]} in k8s/versions.json (or deploy with the kit version that deployed it)`,
        docs: 'kafka-upgrade',
      },
    );
  const majors = new Set(from.map((v) => v.split('.')[0]));
  if ([...majors].some((m) => m !== to.split('.')[0]))
    throw new StepError(
      `statefulset/${STATEFULSET} in ${namespace} runs Kafka ${from.join(', ')}; the pin ${to} is another major version, which the kit does not roll (read Kafka's upgrade notes for it); nothing was changed`,
      { fix: `pin Kafka back to ${from[from.length - 1]} in k8s/versions.json, or upgrade by hand following Kafka's upgrade notes`, docs: 'kafka-upgrade' },
    );
  return { ...base, roll: true };
}

export function featuresCommand(release: string): string {
  return `kafka-features.sh upgrade --release-version ${release}`;
}

/** The plan line of an upgrade found (the dry-run's conditional line is in index.ts). */
export function describeUpgrade(u: KafkaUpgrade): string {
  const roll = u.roll
    ? `roll one broker at a time (${rollOrder(u.replicas).join(', ')}), each gated on every partition back in its ISR and the controller quorum caught up; then `
    : 'every broker runs it already: ';
  return `kafka ${u.from.join(', ')} -> ${u.to}: ${roll}finalize the metadata version (${featuresCommand(u.release)})`;
}

/** A tool of the image run in a broker: a small heap beside the broker's own (as docs/kafka.md's lines do). */
function toolArgs(namespace: string, pod: string, tool: string, args: string[]): string[] {
  return [
    'exec',
    '-n',
    namespace,
    pod,
    '-c',
    'kafka',
    '--',
    'env',
    'KAFKA_HEAP_OPTS=-Xmx128m',
    `/opt/kafka/bin/${tool}`,
    '--bootstrap-server',
    `localhost:${CLIENT_PORT}`,
    ...args,
  ];
}

/** kafka-2, kafka-1, kafka-0: the order of the roll (the StatefulSet controller's own order for a partition). */
const rollOrder = (replicas: number) => Array.from({ length: replicas }, (_, i) => podName(replicas - 1 - i));

/** `kafka-metadata-quorum.sh describe --replication`: one row per voter (and observer). */
export interface QuorumRow {
  nodeId: number;
  lag: number;
  lastFetch: number;
  lastCaughtUp: number;
  status: string;
}

/** The columns the rows are read from, found by name in the header rather than by position. */
const QUORUM_COLUMNS = ['NodeId', 'Lag', 'LastFetchTimestamp', 'LastCaughtUpTimestamp', 'Status'] as const;

export function parseQuorumReplication(text: string): QuorumRow[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const head = lines.findIndex((l) => /^NodeId\s/.test(l));
  if (head < 0) throw new Error(`kafka-metadata-quorum.sh printed no table: ${text.trim().slice(0, 300)}`);
  const cols = lines[head]!.split(/\s+/);
  const missing = QUORUM_COLUMNS.find((c) => !cols.includes(c));
  if (missing) throw new Error(`kafka-metadata-quorum.sh: no ${missing} column in "${lines[head]}"`);
  const [id, lag, fetch, caught, status] = QUORUM_COLUMNS.map((c) => cols.indexOf(c)) as [number, number, number, number, number];
  return lines.slice(head + 1).map((l) => {
    const f = l.split(/\s+/);
    return {
      nodeId: Number(f[id]),
      lag: Number(f[lag]),
      lastFetch: Number(f[fetch]),
      lastCaughtUp: Number(f[caught]),
      status: f[status] ?? '',
    };
  });
}

/**
 * The quorum has caught up: every voter (0..replicas-1) is listed as Leader or Follower and either shows no lag or
 * was caught up at its last fetch (the leader records both times; a follower a few records behind between two
 * fetches is still following). Returns what is missing, or undefined.
 */
export function quorumBehind(rows: readonly QuorumRow[], replicas: number): string | undefined {
  const missing: string[] = [];
  for (let n = 0; n < replicas; n++) {
    const r = rows.find((x) => x.nodeId === n);
    if (!r) missing.push(`voter ${n} not listed`);
    else if (!/^(Leader|Follower)$/.test(r.status)) missing.push(`voter ${n} is ${r.status}`);
    else if (r.lag > 0 && !(r.lastCaughtUp > 0 && r.lastFetch - r.lastCaughtUp <= 1000)) missing.push(`voter ${n} lags ${r.lag} record(s)`);
  }
  return missing.length ? missing.join(', ') : undefined;
}

/** The `Name: value` fields of each line of `kafka-topics.sh --describe` and `kafka-features.sh describe` (a value may be empty). */
function toolFields(text: string): Record<string, string>[] {
  return text.split('\n').map((l) => Object.fromEntries([...l.matchAll(/(\w+): *(\S*)/g)].map((m) => [m[1]!, m[2]!])));
}

/** `kafka-topics.sh --describe --under-replicated-partitions`: one line per partition whose ISR lacks a replica. */
export function underReplicated(text: string): string[] {
  return toolFields(text)
    .filter((f) => f.Partition)
    .map((f) => `${f.Topic}-${f.Partition} (replicas ${f.Replicas}, ISR ${f.Isr || 'none'})`);
}

/** One look at the gate, from broker `pod`: undefined when it holds, else what is still missing. */
export async function gateState(step: StepCtx, pod: string, replicas: number): Promise<string | undefined> {
  const ns = step.config.namespace;
  const topics = await step.kube.run(toolArgs(ns, pod, 'kafka-topics.sh', ['--describe', '--under-replicated-partitions']), { quiet: true, timeoutMs: 60_000 });
  const behind = underReplicated(topics.stdout);
  if (behind.length) return `${behind.length} partition(s) not back in their ISR: ${behind.slice(0, 3).join(', ')}${behind.length > 3 ? ', ...' : ''}`;
  const quorum = await step.kube.run(toolArgs(ns, pod, 'kafka-metadata-quorum.sh', ['describe', '--replication']), { quiet: true, timeoutMs: 60_000 });
  const q = quorumBehind(parseQuorumReplication(quorum.stdout), replicas);
  return q ? `controller quorum not caught up: ${q}` : undefined;
}

/**
 * Replaces the brokers one at a time, highest ordinal first: lowers the partition to the ordinal, waits for that
 * pod at the new revision and ready (failing fast with the pod's diagnosis), then for the gate. A broker already at
 * the new revision (a re-run after a failure) is gated, not replaced.
 */
export async function rollBrokers(step: StepCtx, u: KafkaUpgrade): Promise<void> {
  const ns = step.config.namespace;
  await step.kube.run(['annotate', 'statefulset', STATEFULSET, '-n', ns, '--overwrite', `${FINALIZE_ANNOTATION}=${u.release}`]);
  for (let i = u.replicas - 1; i >= 0; i--) {
    const pod = podName(i);
    const t0 = step.clock.now();
    const partition = { spec: { updateStrategy: { rollingUpdate: { partition: i } } } };
    await step.kube.run(['patch', 'statefulset', STATEFULSET, '-n', ns, '--type=merge', '-p', JSON.stringify(partition)]);
    await waitForPod(step, pod, {
      what: `${pod} to run Kafka ${u.to} and be ready`,
      list: { kinds: 'statefulset,pod', selector: KAFKA_SELECTOR },
      pending: (p, items) => {
        const sts = items.find((o) => o.kind === 'StatefulSet' && o.metadata.name === STATEFULSET);
        // Until the controller has observed the patch (and the template applied just before), its update revision
        // may still be the old one, which the old pod would match.
        const seen = (sts?.status?.observedGeneration ?? 0) >= (sts?.metadata.generation ?? 0);
        if (!sts?.status?.updateRevision || !seen) return `statefulset/${STATEFULSET} has not taken the change yet`;
        if (p.metadata.labels?.['controller-revision-hash'] !== sts.status.updateRevision || p.metadata.deletionTimestamp)
          return `${pod} still at the old revision`;
      },
      stuck: (d, logs) =>
        new StepError(
          `Kafka ${u.to} cannot start on ${pod}: ${d.state}${logs}\nthe roll stopped there: the brokers below it still run ${u.from.join(', ')} and keep the quorum`,
          {
            fix:
              d.fix ??
              `fix what the pod's state names, then re-run the deploy (it goes on from ${pod}); or pin Kafka back to ${u.from[0]} in k8s/versions.json and re-run`,
            docs: d.docs ?? 'kafka-upgrade',
          },
        ),
    });
    const ready = step.clock.now();
    await waitInStep(step, {
      what: `every partition back in its ISR and the controller quorum caught up after ${pod}`,
      firstIntervalMs: 1000,
      intervalMs: 3000,
      probe: async () => {
        const missing = await gateState(step, pod, u.replicas);
        return missing ? { done: false, state: missing } : { done: true, state: 'in sync' };
      },
    });
    const done = step.clock.now();
    step.log.ok(
      `${pod} runs Kafka ${u.to}: ready in ${formatDuration(ready - t0)}, every partition in its ISR and the quorum caught up ${formatDuration(done - ready)} later`,
    );
  }
}

/** `kafka-features.sh describe`: the finalized level of each feature ("metadata.version" -> "4.4-IV0"). */
export function parseFeatures(text: string): Record<string, string> {
  return Object.fromEntries(toolFields(text).flatMap((f) => (f.Feature && f.FinalizedVersionLevel ? [[f.Feature, f.FinalizedVersionLevel]] : [])));
}

/**
 * Finalizes the metadata version (and the other features) of the release every broker now runs. The flag is the
 * one kafka-tools 4.4.0 documents (FeatureCommand: `upgrade --release-version`; `--metadata` is deprecated there):
 * it sets each feature to the release's level, what `kafka-features.sh version-mapping --release-version` lists.
 */
export async function finalizeRelease(step: StepCtx, u: KafkaUpgrade): Promise<string> {
  const ns = step.config.namespace;
  const pod = podName(0);
  const fix = `the brokers run ${u.to}; finalize by hand: kubectl exec ${pod} -n ${ns} -- /opt/kafka/bin/kafka-features.sh --bootstrap-server localhost:${CLIENT_PORT} upgrade --release-version ${u.release}`;
  const r = await step.kube.run(toolArgs(ns, pod, 'kafka-features.sh', ['upgrade', '--release-version', u.release]), {
    allowFailure: true,
    timeoutMs: 120_000,
  });
  const d = await step.kube.run(toolArgs(ns, pod, 'kafka-features.sh', ['describe']), { quiet: true, timeoutMs: 60_000 });
  const mv = parseFeatures(d.stdout)['metadata.version'];
  if (!mv || !(mv === u.release || mv.startsWith(`${u.release}-`)))
    throw new StepError(
      `the metadata version is ${mv ?? 'unknown'} after ${featuresCommand(u.release)} (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`,
      { fix, docs: 'kafka-upgrade' },
    );
  await step.kube.run(['annotate', 'statefulset', STATEFULSET, '-n', ns, `${FINALIZE_ANNOTATION}-`]);
  return mv;
}
