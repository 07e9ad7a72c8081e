// deploy-kafka and verify-kafka against a REAL Apache Kafka broker of the version the kit deploys (started from
// the Maven jars by test/support/kafka.ts, KRaft on loopback), run as a user runs them: subprocesses with
// --no-cluster --kafka-brokers. Requires test/substrate/provision-data.sh to have run; fails loudly otherwise.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { PROBE_HEADER, PROBE_ID_HEADER } from '../../scripts/lib/components/kafka/checks.js';
import { PROBE_GROUP_PREFIX } from '../../scripts/lib/components/shared/kafka-topology.js';
import { VERIFY_TOPIC } from '../../scripts/lib/components/shared/kafka-topology.js';
import { CLIENT_SETTINGS } from '../../scripts/lib/components/shared/kafka-client.js';
import { REPO, runKit, STACK_TRACE, type CliResult } from '../support/cli.js';
import { pinnedKafkaVersion, startKafka, type KafkaInstance } from '../support/kafka.js';

const { Kafka: KafkaClient, logLevel, ConfigResourceTypes } = kafkajs;
const LONG = { timeout: 90_000 };
const DAY = 86_400_000;
const CATALOGUE = readFileSync(path.join(REPO, 'k8s/kafka/topics.yaml'), 'utf8');
const TOPICS = [...CATALOGUE.matchAll(/^ {2}- name: (\S+)$/gm)].map((m) => m[1]!);
/** No LEARNFLOW_* setting of the caller leaks into the scripts. */
const CLEAN_ENV = { LEARNFLOW_KAFKA_BROKERS: '', LEARNFLOW_NAMESPACE: '', LEARNFLOW_CONTEXT: '' };

let broker: KafkaInstance;
let kafka: Kafka;
let admin: Admin;
let dir: string;

function run(script: 'deploy' | 'verify', args: string[] = [], brokers = broker.brokers): Promise<CliResult> {
  return runKit(`scripts/${script}-kafka.mts`, ['--no-cluster', '--kafka-brokers', brokers.join(','), '--json', ...args], {
    env: CLEAN_ENV,
    timeoutMs: 80_000,
  });
}

function report(r: CliResult): Report {
  try {
    return JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

function catalogueFile(name: string, edit: (text: string) => string): string {
  const file = path.join(dir, name);
  writeFileSync(file, edit(CATALOGUE));
  return file;
}

/** Changes one field of one topic in the catalogue text. */
function setField(text: string, topic: string, field: string, value: string): string {
  const re = new RegExp(`(- name: ${topic.replace(/\./g, '\\.')}\\n(?:    .*\\n)*?    ${field}: )\\S+`);
  if (!re.test(text)) throw new Error(`no ${field} for ${topic} in the catalogue`);
  return text.replace(re, `$1${value}`);
}

/** The sum of each topic's end offsets: grows with every record written to it. */
async function endOffsets(topics: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of topics) out[t] = (await admin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high), 0);
  return out;
}

async function topicState(name: string) {
  const meta = await admin.fetchTopicMetadata({ topics: [name] });
  const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name }] });
  const configs = Object.fromEntries(cfg.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  return { partitions: meta.topics[0]!.partitions.length, configs };
}

beforeAll(async () => {
  broker = await startKafka();
  dir = mkdtempSync(path.join(tmpdir(), 'lf-kafka-it-'));
  kafka = new KafkaClient({ clientId: 'kafka-it', brokers: broker.brokers, logLevel: logLevel.NOTHING, ...CLIENT_SETTINGS });
  admin = kafka.admin();
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('deploy-kafka and verify-kafka on a real Kafka broker', () => {
  it('runs the Kafka version the kit deploys', () => {
    expect(broker.version).toBe(pinnedKafkaVersion());
    expect(TOPICS).toHaveLength(10);
  });

  it('creates every catalogue topic with its partitions and settings', LONG, async () => {
    const r = await run('deploy');
    expect(r.code, r.stderr).toBe(0);
    const step = report(r).steps[0]!;
    expect(step.changes).toEqual(Object.fromEntries(TOPICS.map((t) => [`topic ${t}`, 'created'])));
    const q = await topicState('learning.queries');
    expect(q.partitions).toBe(6);
    expect(q.configs).toMatchObject({ 'retention.ms': String(7 * DAY), 'compression.type': 'snappy', 'cleanup.policy': 'delete', 'min.insync.replicas': '1' });
    const dlq = await topicState('dead-letter.queue');
    expect(dlq.configs).toMatchObject({ 'retention.ms': String(30 * DAY), 'compression.type': 'gzip' });
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it('a second run changes nothing: every topic unchanged', LONG, async () => {
    const r = await run('deploy');
    expect(r.code, r.stderr).toBe(0);
    expect(report(r).steps[0]!.changes).toEqual(Object.fromEntries(TOPICS.map((t) => [`topic ${t}`, 'unchanged'])));
  });

  it("verify passes without writing to any application topic: metadata, every topic read only, a round trip on the kit's own topic", LONG, async () => {
    const before = await endOffsets(TOPICS);
    const r = await run('verify');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const checks = report(r).steps[0]!.checks;
    expect(checks.map((c) => c.name)).toEqual(['broker metadata reachable', ...TOPICS.map((t) => `topic ${t}`), `round trip ${VERIFY_TOPIC}`]);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks[0]!.detail).toMatch(/^1 broker\(s\)/);
    expect(checks.find((c) => c.name === 'topic learning.queries')!.detail).toMatch(/^6 partition\(s\) with leaders, replication factor 1 in sync/);
    expect(checks.at(-1)!.detail).toMatch(/^probe \w+ sent and read back in \d+ ms/);
    // Dapr's subscriber would deliver anything written there to the services: nothing was.
    expect(await endOffsets(TOPICS)).toEqual(before);
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    expect(groups.filter((g) => g.startsWith(PROBE_GROUP_PREFIX))).toEqual([]);
  });

  it('--round-trip-app-topics also round-trips every application topic; the probes are marked, their groups removed', LONG, async () => {
    const r = await run('verify', ['--round-trip-app-topics']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const checks = report(r).steps[0]!.checks;
    expect(checks.map((c) => c.name)).toEqual([
      'broker metadata reachable',
      ...TOPICS.map((t) => `topic ${t}`),
      `round trip ${VERIFY_TOPIC}`,
      ...TOPICS.map((t) => `round trip ${t}`),
    ]);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    for (const c of checks.filter((c) => c.name.startsWith('round trip'))) expect(c.detail).toMatch(/^probe \w+ sent and read back in \d+ ms/);
    expect(r.stderr).toContain('running services will receive it');

    // The probe on a snappy topic is really there, marked.
    const consumer = kafka.consumer({ groupId: `kafka-it-${Date.now()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: ['learning.queries'], fromBeginning: true });
      const headers = await new Promise<Record<string, string>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no probe message read back within 20 s')), 20_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])));
          },
        });
      });
      expect(headers[PROBE_HEADER]).toBe('true');
      expect(headers[PROBE_ID_HEADER]).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await consumer.disconnect();
    }
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    expect(groups.filter((g) => g.startsWith(PROBE_GROUP_PREFIX))).toEqual([]);
  });

  it('applies a grown partition count and a changed retention, keeping a setting made by hand', LONG, async () => {
    // Someone raised max.message.bytes on exercise.grading by hand (the legacy AlterConfigs sends the whole set).
    const before = await topicState('exercise.grading');
    const keep = ['retention.ms', 'compression.type', 'cleanup.policy', 'min.insync.replicas'].map((name) => ({ name, value: before.configs[name]! }));
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'exercise.grading', configEntries: [...keep, { name: 'max.message.bytes', value: '2097152' }] }],
    });

    const file = catalogueFile('grown.yaml', (t) => setField(setField(t, 'learning.queries', 'partitions', '8'), 'exercise.grading', 'retention', '3d'));
    const r = await run('deploy', ['--topics', file]);
    expect(r.code, r.stderr).toBe(0);
    const changes = report(r).steps[0]!.changes!;
    expect(changes['topic learning.queries']).toBe('updated');
    expect(changes['topic exercise.grading']).toBe('updated');
    expect(
      Object.entries(changes)
        .filter(([, v]) => v !== 'unchanged')
        .map(([k]) => k),
    ).toEqual(['topic learning.queries', 'topic exercise.grading']);
    expect(r.stderr).toContain('topic learning.queries: partitions 6 -> 8');
    expect(r.stderr).toContain('topic exercise.grading: retention.ms 7d -> 3d');

    expect((await topicState('learning.queries')).partitions).toBe(8);
    const grading = await topicState('exercise.grading');
    expect(grading.configs).toMatchObject({
      'retention.ms': String(3 * DAY),
      'compression.type': 'snappy',
      'cleanup.policy': 'delete',
      'max.message.bytes': '2097152',
    });

    const again = await run('deploy', ['--topics', file]);
    expect(again.code, again.stderr).toBe(0);
    expect(Object.values(report(again).steps[0]!.changes!)).toEqual(TOPICS.map(() => 'unchanged'));
    const verify = await run('verify', ['--topics', file]);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('verify against the original catalogue names the topics that now differ, and how', LONG, async () => {
    const r = await run('verify');
    expect(r.code).toBe(1);
    const failed = report(r).steps[0]!.checks.filter((c) => !c.ok);
    expect(failed).toEqual([
      { name: 'topic learning.queries', ok: false, detail: '8 partition(s), the catalogue says 6' },
      { name: 'topic exercise.grading', ok: false, detail: 'retention.ms is 3d, expected 7d' },
    ]);
  });

  it('refuses to shrink a topic and then changes nothing at all', LONG, async () => {
    const file = catalogueFile(
      'shrink.yaml',
      (t) =>
        setField(t, 'learning.queries', 'partitions', '2') +
        '\n  - name: not.created\n    partitions: 1\n    retention: 1d\n    compression: gzip\n    cleanupPolicy: delete\n',
    );
    const r = await run('deploy', ['--topics', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('topic learning.queries has 8 partitions and the catalogue asks for 2: Kafka cannot remove partitions');
    expect(r.stderr).toContain('nothing was changed');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(await admin.listTopics()).not.toContain('not.created');
    expect((await topicState('learning.queries')).partitions).toBe(8);
  });

  it("verify fails naming a topic deleted behind the kit's back; deploy recreates it", LONG, async () => {
    const file = path.join(dir, 'grown.yaml');
    await admin.deleteTopics({ topics: ['struggle.detection'], timeout: 10_000 });
    for (let i = 0; i < 50 && (await admin.listTopics()).includes('struggle.detection'); i++) await new Promise((res) => setTimeout(res, 200));

    const r = await run('verify', ['--topics', file]);
    expect(r.code).toBe(1);
    const failed = report(r).steps[0]!.checks.filter((c) => !c.ok);
    expect(failed).toEqual([{ name: 'topic struggle.detection', ok: false, detail: 'missing' }]);
    expect(r.stdout).toContain('struggle.detection');

    const d = await run('deploy', ['--topics', file]);
    expect(d.code, d.stderr).toBe(0);
    expect(report(d).steps[0]!.changes!['topic struggle.detection']).toBe('created');
  });

  it('a bad catalogue stops before contacting anything: exit 2, naming the topic and the field', LONG, async () => {
    const file = catalogueFile('bad.yaml', (t) => setField(t, 'progress.updates', 'compression', 'brotli'));
    const r = await run('deploy', ['--topics', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/topic 'progress\.updates': compression must be one of .*"brotli"/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const missing = await run('verify', ['--topics', path.join(dir, 'absent.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('absent.yaml does not exist');
  });

  it('bad usage exits 2: an unknown flag, --no-cluster without --kafka-brokers', LONG, async () => {
    const unknown = await runKit('scripts/deploy-kafka.mts', ['--no-cluster', '--kafka-brokers', broker.brokers[0]!, '--partitions', '3'], { env: CLEAN_ENV });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown flag --partitions');
    const noBrokers = await runKit('scripts/verify-kafka.mts', ['--no-cluster'], { env: CLEAN_ENV });
    expect(noBrokers.code).toBe(2);
    expect(noBrokers.stderr).toContain('--kafka-brokers');
  });

  // Last: the broker is killed.
  it('broker down: deploy and verify fail within 15 s with a clear message, exit 1, no stack trace', LONG, async () => {
    await broker.kill();
    for (const script of ['deploy', 'verify'] as const) {
      const r = await run(script);
      expect(r.code, `${script}: ${r.stderr}`).toBe(1);
      expect(r.durationMs, script).toBeLessThan(15_000);
      expect(r.stderr).toContain(`cannot reach Kafka at ${broker.brokers[0]} (--kafka-brokers ${broker.brokers[0]})`);
      expect(r.stderr).toContain('ECONNREFUSED');
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(r.stderr).not.toContain('internal error');
      expect(report(r).ok).toBe(false);
    }
  });
});
