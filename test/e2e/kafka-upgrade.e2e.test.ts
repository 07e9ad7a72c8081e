// Kafka version upgrade on the REAL node: 3 brokers of the previous version (the stand-in image of
// test/substrate/upgrade-from.env, deployed through LEARNFLOW_VERSIONS_FILE), then deploy-kafka with the pin while
// a producer writes with acks=all through the kit's supervised port-forwards. Counts NOT_ENOUGH_REPLICAS errors and
// records acknowledged but never consumed; checks every broker runs the pin and the metadata version is finalized.
//
// Memory: 3 brokers request 1Gi each (limit 2Gi, heap 512m: manifests.ts KAFKA_RESOURCES); the real node offers the
// machine's memory (over 20 GiB on these machines) and the kit's preflight counts only the KWOK node (8 GiB).

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import SnappyCodec from 'kafkajs-snappy';
import { describe, expect, it } from 'vitest';
import { readVersions, VERSIONS_FILE_ENV } from '../../scripts/lib/core/repo.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { parseFeatures } from '../../scripts/lib/components/kafka/upgrade.js';
import { REPO, runKit, STACK_TRACE } from '../support/cli.js';
import { waitFor } from '../support/kube-cluster.js';
import { holdLock, KAFKA_LOCAL_PORT_LOCK } from '../support/locks.js';
import { steerNamespaceToRealNode } from '../support/real-node.js';
import { sharedCluster } from '../support/shared-cluster.js';
import { inCache } from '../support/paths.js';

const { Kafka, logLevel, CompressionCodecs, CompressionTypes } = kafkajs;
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const NS = 'learnflow';
const MIN = 60_000;
const PIN = readVersions().kafka;
const FROM =
  /KAFKA_UPGRADE_FROM="([^"]+)"/.exec(readFileSync(path.join(REPO, 'test', 'substrate', 'upgrade-from.env'), 'utf8'))?.[1]?.split(/\s+/)[0] ?? '(none)';
const TOPIC = 'kit-test.upgrade';

const cluster = sharedCluster({ name: 'e2e-kafka-upgrade', realNode: true }, async (c) => {
  await steerNamespaceToRealNode(c, NS);
});

// One test: it takes the laptop-port lock (29092-29094 forward the brokers) and its scratch folder itself.
let tmp = '';

const kit = (script: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 5 * MIN) =>
  runKit(script, ['--context', cluster().context, ...args], { env: { ...cluster().env, ...env }, timeoutMs });

interface Pod {
  metadata: { name: string };
  spec: { containers: { name: string; image: string }[] };
  status: { containerStatuses?: { name: string; image?: string; ready: boolean }[] };
}
const kafkaPods = async () =>
  (JSON.parse(await cluster().kubectl(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/name=kafka', '-o', 'json'])) as { items: Pod[] }).items;
const inBroker = (pod: string, cmd: string) => cluster().kubectl(['exec', '-n', NS, pod, '-c', 'kafka', '--', 'sh', '-c', cmd], { timeoutMs: 90_000 });

/** Every error of a kafkajs failure, the wrapped ones too (retries exceeded, aggregate, cause). */
function errorTypes(err: unknown, out: string[] = []): string[] {
  if (!err || typeof err !== 'object') return out;
  const e = err as { type?: string; name?: string; originalError?: unknown; errors?: unknown[]; cause?: unknown };
  out.push(e.type ?? e.name ?? 'unknown');
  errorTypes(e.originalError, out);
  errorTypes(e.cause, out);
  for (const x of e.errors ?? []) errorTypes(x, out);
  return out;
}

describe(`Kafka ${FROM} -> ${PIN.version} with 3 brokers on the real node, a producer writing with acks=all`, () => {
  it(
    'rolls one broker at a time gated on ISR and quorum: no NOT_ENOUGH_REPLICAS, no acknowledged record lost, every broker on the pin, metadata version finalized',
    { timeout: 25 * MIN },
    async () => {
      const releasePortLock = await holdLock(KAFKA_LOCAL_PORT_LOCK);
      tmp = mkdtempSync(path.join(tmpdir(), 'lf-kafka-upgrade-'));
      try {
        await upgradeUnderLoad();
      } finally {
        releasePortLock();
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  );
});

/** Deploy the previous version, upgrade it under a producer, check what runs. */
async function upgradeUnderLoad(): Promise<void> {
  expect(FROM, 'test/substrate/upgrade-from.env names a version').toMatch(/^\d+\.\d+\.\d+$/);
  expect(FROM).not.toBe(PIN.version);
  // Both images are in the node's containerd (provision-images.sh): a missing one fails here, not as a pull.
  const images = readFileSync(inCache('node-containerd', 'images.env'), 'utf8');
  expect(images).toContain(`kafka_upgrade_from=docker.io/${PIN.image}:${FROM}`);
  expect(images).toContain(`kafka=docker.io/${PIN.image}:${PIN.version}`);

  const override = path.join(tmp, 'versions.json');
  writeFileSync(override, JSON.stringify({ kafka: { version: FROM } }));
  const first = await kit('scripts/deploy-kafka.mts', ['--replicas', '3', '--json'], { [VERSIONS_FILE_ENV]: override }, 8 * MIN);
  expect(first.stderr).not.toMatch(STACK_TRACE);
  expect(first.code, first.stderr.slice(-4000)).toBe(0);
  const before = await kafkaPods();
  expect(before.map((p) => [p.metadata.name, p.spec.containers[0]!.image]).sort()).toEqual([0, 1, 2].map((i) => [`kafka-${i}`, `${PIN.image}:${FROM}`]));

  // What the upgrade will do, shown before it runs: --dry-run (no cluster read) and --diff (the running brokers).
  const plan = await kit('scripts/deploy-kafka.mts', ['--dry-run']);
  expect(plan.code, plan.stderr).toBe(0);
  expect(plan.stderr).toMatch(/roll one broker at a time, highest ordinal first, each gated on every partition back in its ISR/);
  const diff = await kit('scripts/deploy-kafka.mts', ['--diff']);
  expect(diff.code, diff.stderr.slice(-3000)).toBe(1);
  const upgradeLine = `kafka ${FROM} -> ${PIN.version}: roll one broker at a time (kafka-2, kafka-1, kafka-0), each gated on every partition back in its ISR and the controller quorum caught up; then finalize the metadata version (kafka-features.sh upgrade --release-version ${PIN.version.split('.').slice(0, 2).join('.')})`;
  expect(diff.stdout).toContain(upgradeLine);
  expect(diff.stdout).toMatch(new RegExp(`-\\s+image: ${PIN.image}:${FROM.replace(/\./g, '\\.')}`));
  expect((await kafkaPods()).map((p) => p.spec.containers[0]!.image)).toEqual(before.map((p) => p.spec.containers[0]!.image));

  // The producer goes through the kit's supervised forwards (re-opened as each broker restarts).
  const state = path.join(tmp, 'pf.json');
  const pf = (cmd: string) => kit('scripts/port-forward.mts', [cmd, '--only', 'kafka', '--state-file', state], {}, 2 * MIN);
  const started = await pf('start');
  expect(started.code, started.stderr).toBe(0);
  const kafka = new Kafka({ brokers: ['127.0.0.1:29092', '127.0.0.1:29093', '127.0.0.1:29094'], clientId: 'upgrade-e2e', logLevel: logLevel.NOTHING });
  try {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
    });
    // Not kafkajs' waitForLeaders: it gives up on UNKNOWN_TOPIC_OR_PARTITION from a fresh broker that has not yet
    // learnt of the new topic (seen once). Here that answer is one more poll.
    await waitFor(
      'every partition led, with all 3 replicas in sync',
      async () => {
        const md = await admin.fetchTopicMetadata({ topics: [TOPIC] }).catch(() => undefined);
        const parts = md?.topics[0]?.partitions ?? [];
        return parts.length === 3 && parts.every((p) => p.leader >= 0 && p.isr.length === 3) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await admin.disconnect();

    // No retries inside kafkajs: each failure is seen here and counted by type, then the record is sent again.
    const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
    await producer.connect();
    const acked = new Set<string>();
    const failures: Record<string, number> = {};
    // When each kind of failure was first and last seen (UTC, as the kit's log lines), to place it in the roll.
    const failedAt: Record<string, [string, string]> = {};
    let stop = false;
    let seq = 0;
    const loop = (async () => {
      while (!stop) {
        const value = `r-${seq}`;
        try {
          await producer.send({ topic: TOPIC, acks: -1, timeout: 10_000, messages: [{ key: String(seq % 3), value }] });
          acked.add(value);
          seq++;
          await new Promise((r) => setTimeout(r, 20));
        } catch (err) {
          const at = new Date().toISOString().slice(11, 19);
          for (const t of new Set(errorTypes(err))) {
            failures[t] = (failures[t] ?? 0) + 1;
            failedAt[t] = [failedAt[t]?.[0] ?? at, at];
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
    await waitFor('the producer to be acknowledged', async () => (acked.size >= 50 ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });

    const t0 = Date.now();
    const up = await kit('scripts/deploy-kafka.mts', ['--json'], {}, 12 * MIN);
    const tookMs = Date.now() - t0;
    const ackedDuring = acked.size;
    await new Promise((r) => setTimeout(r, 3000));
    stop = true;
    await loop;
    await producer.disconnect();
    console.log(
      `Kafka ${FROM} -> ${PIN.version} with 3 brokers: deploy-kafka took ${(tookMs / 1000).toFixed(1)} s; ${acked.size} records acknowledged (${ackedDuring} by its end); send failures by type: ${JSON.stringify(failures)}, first and last seen: ${JSON.stringify(failedAt)}`,
    );
    console.log(
      up.stderr
        .split('\n')
        .filter((l) => /runs Kafka|metadata version finalized|statefulset\/kafka/.test(l))
        .join('\n'),
    );
    expect(up.stderr).not.toMatch(STACK_TRACE);
    expect(up.code, up.stderr.slice(-5000)).toBe(0);
    expect(up.stderr).toContain(upgradeLine);
    for (const p of ['kafka-2', 'kafka-1', 'kafka-0']) expect(up.stderr).toMatch(new RegExp(`${p} runs Kafka ${PIN.version.replace(/\./g, '\\.')}: ready in`));
    // Highest ordinal first.
    expect(up.stderr.indexOf('kafka-2 runs Kafka')).toBeLessThan(up.stderr.indexOf('kafka-1 runs Kafka'));
    expect(up.stderr.indexOf('kafka-1 runs Kafka')).toBeLessThan(up.stderr.indexOf('kafka-0 runs Kafka'));
    const rep = JSON.parse(up.stdout) as Report;
    expect(rep.steps[0]!.ok).toBe(true);
    expect(rep.steps[0]!.changes).toMatchObject({ 'kafka version': `upgraded ${FROM} -> ${PIN.version}` });

    expect(failures.NOT_ENOUGH_REPLICAS ?? 0, JSON.stringify({ failures, failedAt })).toBe(0);
    expect(failures.NOT_ENOUGH_REPLICAS_AFTER_APPEND ?? 0, JSON.stringify(failures)).toBe(0);
    expect(ackedDuring).toBeGreaterThan(100);

    // Every acknowledged record is there.
    const consumer = kafka.consumer({ groupId: `upgrade-e2e-${Date.now()}` });
    await consumer.connect();
    const seen = new Set<string>();
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.add(String(message.value)) });
      await waitFor('every acknowledged record consumed', async () => ([...acked].every((v) => seen.has(v)) ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 500,
      }).catch(() => undefined);
    } finally {
      await consumer.disconnect();
    }
    const lost = [...acked].filter((v) => !seen.has(v));
    console.log(`acknowledged ${acked.size}, consumed ${seen.size} distinct, lost ${lost.length}`);
    expect(lost).toEqual([]);
  } finally {
    await pf('stop');
  }

  // Every broker runs the pin: the pod's image and the jars of the running JVM.
  const after = await kafkaPods();
  expect(after.map((p) => [p.metadata.name, p.spec.containers[0]!.image]).sort()).toEqual([0, 1, 2].map((i) => [`kafka-${i}`, `${PIN.image}:${PIN.version}`]));
  for (const p of after) {
    expect(p.status.containerStatuses?.[0]?.ready, p.metadata.name).toBe(true);
    const cp = await inBroker(p.metadata.name, "tr '\\0' ' ' </proc/1/cmdline");
    expect(cp, p.metadata.name).toContain('kafka.Kafka');
    expect(await inBroker(p.metadata.name, 'ls /opt/kafka/libs'), p.metadata.name).toContain(`kafka_2.13-${PIN.version}.jar`);
  }
  const features = parseFeatures(
    await inBroker('kafka-0', 'KAFKA_HEAP_OPTS=-Xmx128m /opt/kafka/bin/kafka-features.sh --bootstrap-server localhost:9092 describe'),
  );
  const release = PIN.version.split('.').slice(0, 2).join('.');
  expect(features['metadata.version']).toMatch(new RegExp(`^${release.replace('.', '\\.')}(-IV\\d+)?$`));
  const sts = JSON.parse(await cluster().kubectl(['get', 'statefulset', 'kafka', '-n', NS, '-o', 'json'])) as {
    metadata: { annotations?: Record<string, string> };
    spec: { updateStrategy: { rollingUpdate?: { partition?: number } } };
  };
  expect(sts.spec.updateStrategy.rollingUpdate?.partition ?? 0).toBe(0);
  expect(sts.metadata.annotations?.['learnflow.dev/kafka-finalize-release']).toBeUndefined();

  // A re-run finds nothing to upgrade.
  const again = await kit('scripts/deploy-kafka.mts', ['--diff']);
  expect(again.code, again.stdout + again.stderr.slice(-3000)).toBe(0);
  expect(existsSync(override)).toBe(true);
}
