// End to end on the REAL node (issue 13, "End to end on the real node"): the kit's own entry scripts with no
// --pg-url / --kafka-brokers, so the migrations, the topic reconcile and every data check go through the kubectl
// port-forwards the kit opens itself, carried by the API server to a real kubelet. Kafka, PostgreSQL and Redis run
// as containers (the stand-in images of test/substrate/images under the kit's pinned references) from the kit's
// manifests, unchanged: steerNamespaceToRealNode() adds the node's selector and toleration at admission. The Dapr
// control plane stays on the KWOK node (its images cannot be built here).
//
// Capacity: the kit's preflight counts only the KWOK node (the real node is tainted, so the kit skips it) although
// the steered pods land on the real node (known, reported). The KWOK node keeps its default 4 CPU / 8 GiB, as much
// as a laptop cluster the README asks for: the preflight passes for the same reason it would there.
//
// The kit's Kafka port-forward listens on the fixed 127.0.0.1:29092: the tests that need it hold the cross-file
// lock (test/support/locks.ts) and give it back as soon as they are done.

import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import SnappyCodec from 'kafkajs-snappy';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processLooksLike, readState } from '../../scripts/lib/tools/port-forward.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import { freeLocalPort, localPortInUse } from '../../scripts/lib/run/port-forward.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { REPO, runKit, STACK_TRACE } from '../support/cli.js';
import { waitFor } from '../support/kube-cluster.js';
import { holdLock, KAFKA_LOCAL_PORT_LOCK } from '../support/locks.js';
import { docCommands, DOCS } from '../support/doc-commands.js';
import { runProcess } from '../support/process.js';
import { steerNamespaceToRealNode } from '../support/real-node.js';
import { loadCatalogue } from '../../scripts/lib/components/kafka/catalogue.js';
import { KAFKA_JVM_PERFORMANCE_OPTS, SERVER_ONLY_ENV } from '../../scripts/lib/components/kafka/manifests.js';
import { sharedCluster } from '../support/shared-cluster.js';
import { PINNED_DAPR_CHART } from '../support/paths.js';

const { Kafka, logLevel, CompressionCodecs, CompressionTypes } = kafkajs;
// The kit's topics are compression.type=snappy: reading them back needs the codec (as the kit's client has it).
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const V = readVersions();
const CHART = PINNED_DAPR_CHART;
const NS = 'learnflow';
const FAULTS = 'faults';
/** A second stack beside learnflow, in a namespace an admin set to Pod Security "restricted" before the deploy. */
const TEAM_B = 'team-b';
const MIN = 60_000;

const cluster = sharedCluster({ name: 'e2e-real', realNode: true }, async (c) => {
  await steerNamespaceToRealNode(c, NS);
  await steerNamespaceToRealNode(c, FAULTS);
  await steerNamespaceToRealNode(c, TEAM_B);
});

let releasePortLock: (() => void) | undefined;
const tmp = mkdtempSync(path.join(tmpdir(), 'lf-real-e2e-'));
beforeAll(async () => {
  releasePortLock = await holdLock(KAFKA_LOCAL_PORT_LOCK);
}, 660_000);
afterAll(() => {
  releasePortLock?.();
  rmSync(tmp, { recursive: true, force: true });
});

const kit = (script: string, args: string[] = [], timeoutMs = 5 * MIN) =>
  runKit(script, ['--context', cluster().context, ...args], { env: { ...cluster().env, LEARNFLOW_DAPR_CHART: CHART }, timeoutMs });
const report = (stdout: string) => JSON.parse(stdout) as Report;
const notUnchanged = (r: Report) =>
  r.steps.flatMap((s) =>
    Object.entries(s.changes ?? {})
      .filter(([, v]) => v !== 'unchanged')
      .map(([k, v]) => `${s.name}: ${k} ${v}`),
  );
const failedChecks = (r: Report) => r.steps.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `${s.name}: ${c.name}: ${c.detail}`));
const json = async <T>(args: string[]): Promise<T> => JSON.parse(await cluster().kubectl([...args, '-o', 'json'])) as T;
const secretValue = async (name: string, key: string, ns = NS) =>
  Buffer.from(await cluster().kubectl(['get', 'secret', name, '-n', ns, '-o', `jsonpath={.data.${key}}`]), 'base64').toString();

interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: {
    nodeName?: string;
    securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean };
    containers: { name: string; image: string; securityContext?: { runAsUser?: number; runAsGroup?: number } }[];
  };
  status: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; imageID?: string; restartCount: number; lastState?: { terminated?: { reason?: string } } }[];
  };
}
const pods = async (ns = NS) => (await json<{ items: Pod[] }>(['get', 'pods', '-n', ns])).items;
const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** SQL through psql in the pod, over its local socket (as the image's user; what a person does with kubectl exec). */
const psql = (sql: string, ns = NS) =>
  cluster().kubectl(
    [
      'exec',
      '-i',
      '-n',
      ns,
      'postgresql-0',
      '-c',
      'postgresql',
      '--',
      'sh',
      '-c',
      'exec psql -X -At -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f -',
    ],
    { input: sql, timeoutMs: 30_000 },
  );

/** table -> "rows md5" for every table in public, each md5 over its rows in a fixed order. */
async function checksums(): Promise<Record<string, string>> {
  const out =
    await psql(`SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text), '''')) FROM public.%I t', tablename, tablename)
  FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename \\gexec
`);
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('|'))
      .map(([t, n, md5]) => [t!, `${n} ${md5}`]),
  );
}

let seeded: Record<string, string>;
let pgPassword: string;

describe("deploy-all and verify-all on the real node, through the kit's own port-forwards", () => {
  it(
    "deploy-all is green: Kafka, PostgreSQL and Redis containers run the kit's manifests on the real node; migrations and topics went through port-forwards",
    { timeout: 6 * MIN },
    async () => {
      const r = await kit('deploy-all.mts', ['--with-redis', '--json']);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(r.code, r.stderr.slice(-4000)).toBe(0);
      const rep = report(r.stdout);
      expect(rep.steps.map((s) => [s.name, s.ok])).toEqual([
        ['kafka', true],
        ['postgres', true],
        ['dapr', true],
      ]);
      const changes = Object.assign({}, ...rep.steps.map((s) => s.changes ?? {})) as Record<string, string>;
      expect(changes).toMatchObject({
        'statefulset/kafka': 'created',
        'statefulset/postgresql': 'created',
        'statefulset/redis': 'created',
        'migration 0001_schema.sql': 'applied',
        'topic learning.queries': 'created',
      });
      // No endpoint was given: the kit forwarded to the pods itself.
      expect(r.stderr).toMatch(/port-forward 127\.0\.0\.1:29092 -> pod\/kafka-0:29092/);
      expect(r.stderr).toMatch(/connecting through port-forward 127\.0\.0\.1:\d+ -> svc\/postgresql:5432/);
      expect(r.stderr).toContain('10 topics: 10 created');

      const node = cluster().realNode.name;
      const onNode = await pods();
      expect(onNode.map((p) => p.metadata.name).sort()).toEqual(['kafka-0', 'postgresql-0', 'redis-0']);
      for (const p of onNode) {
        expect(p.spec.nodeName, p.metadata.name).toBe(node);
        expect(ready(p), p.metadata.name).toBe(true);
        // A container the node's containerd started (KWOK pods have no container id).
        expect(p.status.containerStatuses?.[0]?.containerID, p.metadata.name).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
      }
      expect(onNode.find((p) => p.metadata.name === 'postgresql-0')!.spec.containers[0]!.image).toBe(`${V.postgres.image}:${V.postgres.version}`);
      expect(onNode.find((p) => p.metadata.name === 'kafka-0')!.spec.containers[0]!.image).toBe(`${V.kafka.image}:${V.kafka.version}`);
      // The control plane stays simulated.
      const dapr = (await pods('dapr-system')).map((p) => p.spec.nodeName);
      expect(dapr.length).toBeGreaterThan(0);
      expect(new Set(dapr)).toEqual(new Set(['kwok-node-0']));

      seeded = await checksums();
      expect(Object.keys(seeded)).toHaveLength(10);
      expect(seeded.topics).toMatch(/^24 [0-9a-f]{32}$/);
      expect(seeded.learnflow_migrations).toMatch(/^3 /);
      pgPassword = await secretValue('postgresql-credentials', 'password');
    },
  );

  it("verify-all is green through real port-forwards (--skip-probe: the probe's daprd sidecar cannot be injected here)", { timeout: 4 * MIN }, async () => {
    // The Dapr probe needs the injector's webhook and a daprd image; neither exists in this substrate, so the probe
    // is skipped and every other check (Kafka round trip, SQL, logins, Dapr objects) runs for real.
    const r = await kit('verify-all.mts', ['--skip-probe', '--json']);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    const rep = report(r.stdout);
    expect(rep.steps.map((s) => s.name)).toEqual(['verify-kafka', 'verify-postgres', 'verify-dapr']);
    expect(failedChecks(rep)).toEqual([]);
    const checks = rep.steps.flatMap((s) => s.checks.map((c) => `${s.name}: ${c.name}`));
    expect(checks).toEqual(
      expect.arrayContaining([
        'verify-kafka: round trip learnflow.kit-verify',
        'verify-postgres: password required',
        'verify-postgres: write/read round trip',
        'verify-postgres: service database students_db',
      ]),
    );
    expect(r.stderr).toMatch(/via port-forward 127\.0\.0\.1:29092/);
    expect(r.stderr).toMatch(/connecting through port-forward 127\.0\.0\.1:\d+ -> svc\/postgresql:5432/);
    expect(r.stderr).toContain('--skip-probe: no sidecar was started');
  });

  it('the re-run reports unchanged everywhere and keeps the data (row checksums identical)', { timeout: 4 * MIN }, async () => {
    const uids = (await pods()).map((p) => p.metadata.uid).sort();
    const r = await kit('deploy-all.mts', ['--with-redis', '--json']);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    expect(notUnchanged(report(r.stdout))).toEqual([]);
    expect(r.stderr).toContain('schema up to date (3 migrations already applied)');
    expect(r.stderr).toContain('10 topics: 0 created, 0 updated, 10 unchanged');
    expect(await checksums()).toEqual(seeded);
    expect(await secretValue('postgresql-credentials', 'password')).toBe(pgPassword);
    // Nothing was restarted.
    expect((await pods()).map((p) => p.metadata.uid).sort()).toEqual(uids);
  });

  it(
    'port-forward.mts start survives deleting postgresql-0 and kafka-0; the re-run converges with the data kept and the message produced before still there; then stop',
    { timeout: 6 * MIN },
    async () => {
      const state = path.join(tmp, 'pf.json');
      const pgPort = await freeLocalPort();
      const pf = (cmd: string) => kit('scripts/port-forward.mts', [cmd, '--state-file', state, '--pg-port', String(pgPort)], 2 * MIN);
      const start = await pf('start');
      expect(start.code, start.stderr).toBe(0);
      expect(start.stdout).toMatch(new RegExp(`postgresql\\s+127\\.0\\.0\\.1:${pgPort}\\s+svc/postgresql:5432\\s+\\d+\\s+up\\s+0\\s+yes`));
      expect(start.stdout).toMatch(/kafka-0\s+127\.0\.0\.1:29092\s+pod\/kafka-0:29092\s+\d+\s+up\s+0\s+yes/);
      const before = readState(state)!;
      const kafka = new Kafka({ brokers: ['127.0.0.1:29092'], clientId: 'real-node-e2e', logLevel: logLevel.NOTHING, retry: { retries: 3 } });
      const value = `produced-before-the-restart-${Date.now()}`;
      const producer = kafka.producer();
      await producer.connect();
      const [sent] = await producer.send({ topic: 'learning.queries', messages: [{ key: 'real-node-e2e', value }] });
      await producer.disconnect();
      const db = async () => {
        const client = new pg.Client({
          host: '127.0.0.1',
          port: pgPort,
          user: 'learnflow_user',
          password: pgPassword,
          database: 'learnflow',
          connectionTimeoutMillis: 10_000,
        });
        await client.connect();
        try {
          return (await client.query<{ n: string }>('SELECT count(*) AS n FROM public.topics')).rows[0]!.n;
        } finally {
          await client.end();
        }
      };
      expect(await db()).toBe('24');

      try {
        const old = await pods();
        await cluster().kubectl(['delete', 'pod', 'postgresql-0', 'kafka-0', '-n', NS, '--wait=false']);
        // Nobody connects through the forwards until the supervisor has re-opened both to the new pods by itself
        // (kubectl alone keeps listening after its pod is gone and fails the next connection through it).
        const oldUid = (name: string) => old.find((x) => x.metadata.name === name)!.metadata.uid;
        await waitFor(
          'new postgresql-0 and kafka-0 ready',
          async () => {
            const now = await pods();
            return (
              ['postgresql-0', 'kafka-0'].every((n) => {
                const p = now.find((x) => x.metadata.name === n);
                return p && p.metadata.uid !== oldUid(n) && ready(p);
              }) || undefined
            );
          },
          { timeoutMs: 120_000, intervalMs: 1000 },
        );
        const reopened = await waitFor(
          'the supervisor to re-open both forwards with no connection through them',
          async () => {
            const st = readState(state);
            return st?.forwards.every((f) => f.state === 'up' && f.restarts >= 1) ? st : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        for (const f of reopened.forwards) expect(f.lastError, f.name).toBeTruthy();
        // The first connection through each re-opened forward works.
        expect(await db()).toBe('24');
        const admin = kafka.admin();
        await admin.connect();
        expect(await admin.listTopics()).toContain('learning.queries');
        await admin.disconnect();

        // The re-run converges (the Kafka step reuses the supervisor's forward on 29092).
        const r = await kit('deploy-all.mts', ['--with-redis', '--json']);
        expect(r.code, r.stderr.slice(-4000)).toBe(0);
        expect(notUnchanged(report(r.stdout))).toEqual([]);
        const now = await pods();
        for (const name of ['postgresql-0', 'kafka-0']) {
          const p = now.find((x) => x.metadata.name === name)!;
          expect(p.metadata.uid, `${name} was recreated`).not.toBe(old.find((x) => x.metadata.name === name)!.metadata.uid);
          expect(ready(p), name).toBe(true);
        }
        expect(await checksums()).toEqual(seeded);

        // The supervisor re-opened both forwards to the new pods: status is green, with new kubectl processes.
        const status = await pf('status');
        expect(status.code, status.stdout + status.stderr).toBe(0);
        expect(status.stdout).toMatch(/kafka-0\s+127\.0\.0\.1:29092\s+pod\/kafka-0:29092\s+\d+\s+up\s+[1-9]\d*\s+yes/);
        const after = readState(state)!;
        for (const f of after.forwards) {
          expect(f.restarts, f.name).toBeGreaterThanOrEqual(1);
          expect(f.pid, f.name).not.toBe(before.forwards.find((b) => b.name === f.name)!.pid);
        }
        expect(readFileSync(after.logFile, 'utf8')).toMatch(/pod\/kafka-0: port-forward dropped \(the pod behind it changed \(kafka-0 \(uid /);
        expect(await db()).toBe('24');

        // The message produced before the restart is still there, read through the re-opened forward.
        const consumer = kafka.consumer({ groupId: `real-node-e2e-${Date.now()}` });
        await consumer.connect();
        try {
          await consumer.subscribe({ topic: 'learning.queries', fromBeginning: true });
          const seen: { value: string; partition: number; offset: string }[] = [];
          await consumer.run({
            eachMessage: async ({ message, partition }) => void seen.push({ value: String(message.value), partition, offset: message.offset }),
          });
          const got = await waitFor('the message produced before the restart', async () => seen.find((m) => m.value === value), {
            timeoutMs: 60_000,
            intervalMs: 250,
          });
          expect(got).toEqual({ value, partition: sent!.partition, offset: sent!.baseOffset });
        } finally {
          await consumer.disconnect();
        }
      } finally {
        const stop = await pf('stop');
        expect(stop.code, stop.stderr).toBe(0);
        // Nobody else in this file needs 29092: let other files have it.
        releasePortLock?.();
        releasePortLock = undefined;
      }
      expect(existsSync(state)).toBe(false);
      const last = readState(state) ?? before;
      expect(processLooksLike(last.supervisorPid, 'port-forward')).toBe(false);
      expect(await localPortInUse(pgPort)).toBe(false);
    },
  );
});

/**
 * Every `kubectl exec ... /opt/kafka/bin/kafka-*.sh` line of README.md and docs/, run as written against the broker
 * on the real node (with the kit's stand-in of the image: kafka-run-class.sh orders its options as upstream's does),
 * and what it prints on stdout checked: the answer (topic names, broker ids, groups, settings) and no log line. Each
 * documented line must match exactly one entry below, and each entry a documented line. What the test changes in a
 * line, and why: `-it` becomes `-i` (no terminal here); the producer gets its messages on stdin; the consumer, which
 * runs until Ctrl-C, gets `--group` and `--timeout-ms`; the delete line deletes a scratch topic, not learning.queries.
 */
const DOC_KAFKA_LINES = DOCS.flatMap(docCommands).filter((f) => /^kubectl exec\b.*\/opt\/kafka\/bin\/kafka-[\w-]+\.sh\b/.test(f.text));
/** A line of the brokers' or tools' log4j layouts ("[2026-12-06 10:00:00,123] INFO ...") or a config dump. */
const LOG_LINE = /^\[\d{4}-\d\d-\d\d [\d:,.]+\] (TRACE|DEBUG|INFO|WARN|ERROR) |\b\w+Config values:|^\s*(TRACE|DEBUG|INFO|WARN|ERROR)\b/m;
const DOCS_GROUP = 'learnflow-docs-check';
const SCRATCH_TOPIC = 'learnflow-docs-check.scratch';
const MARKER = `pasted-from-the-docs-${Date.now()}`;
const lines = (out: string) => out.split('\n').filter((l) => l.trim() !== '');

interface DocLine {
  what: string;
  match: RegExp;
  input?: string;
  rewrite?: (text: string) => string;
  check: (stdout: string) => void;
}
/** In the order they run: the producer before the consumer, the consumer (its group) before the group list. */
const DOC_LINE_CHECKS: DocLine[] = [
  {
    what: 'topics --list: the topic names, one per line',
    match: /kafka-topics\.sh .*--list$/,
    check: (out) => {
      for (const l of lines(out)) expect(l).toMatch(/^[\w.-]+$/);
      expect(lines(out)).toEqual(expect.arrayContaining(CATALOGUE_TOPICS));
    },
  },
  {
    what: 'topics --describe: the topic, then one line per partition led by broker 0',
    match: /kafka-topics\.sh .*--describe --topic learning\.queries$/,
    check: (out) => {
      const [head, ...parts] = lines(out);
      expect(head).toMatch(/^Topic: learning\.queries\tTopicId: \S+\tPartitionCount: \d+\tReplicationFactor: 1\t/);
      expect(parts.length).toBeGreaterThan(0);
      for (const p of parts) expect(p).toMatch(/^\tTopic: learning\.queries\tPartition: \d+\tLeader: 0\tReplicas: 0\tIsr: 0/);
    },
  },
  {
    what: 'topics --describe | head -1: the topic line',
    match: /kafka-topics\.sh .*--describe --topic learning\.queries \| head -1$/,
    check: (out) => expect(lines(out)).toEqual([expect.stringMatching(/^Topic: learning\.queries\tTopicId: \S+\tPartitionCount: \d+\t/)]),
  },
  {
    what: 'console producer: reads messages from stdin, prints nothing',
    match: /kafka-console-producer\.sh .*--topic learning\.queries$/,
    input: `${MARKER}\n`,
    check: (out) => expect(out).toBe(''),
  },
  {
    what: 'console consumer: headers, key and value of each message, the one just produced among them',
    match: /kafka-console-consumer\.sh .*--from-beginning .*print\.key=true$/,
    rewrite: (t) => `${t} --group ${DOCS_GROUP} --timeout-ms 15000`,
    check: (out) => {
      for (const l of lines(out)) expect(l).toMatch(/^[^\t]*\t[^\t]*\t/);
      expect(lines(out)).toContain(`NO_HEADERS\tnull\t${MARKER}`);
    },
  },
  {
    what: 'consumer-groups --list: the group names',
    match: /kafka-consumer-groups\.sh .*--list$/,
    check: (out) => {
      for (const l of lines(out)) expect(l).toMatch(/^[\w.-]+$/);
      expect(lines(out)).toContain(DOCS_GROUP);
    },
  },
  {
    what: '__consumer_offsets | head -2: the topic line and its first partition, replication factor 1 on one broker',
    match: /--describe --topic __consumer_offsets \| head -2$/,
    check: (out) => {
      const [head, first, ...rest] = lines(out);
      expect(rest).toEqual([]);
      expect(head).toMatch(/^Topic: __consumer_offsets\tTopicId: \S+\tPartitionCount: \d+\tReplicationFactor: 1\t/);
      expect(first).toMatch(/^\tTopic: __consumer_offsets\tPartition: 0\tLeader: 0\t/);
    },
  },
  {
    what: 'configs of broker 0 | grep: the replication factors and min ISR, each 1 on one broker',
    match: /kafka-configs\.sh .*--entity-type brokers --entity-name 0 --describe --all \| grep /,
    check: (out) => {
      for (const l of lines(out)) expect(l).toMatch(/^\s+[\w.]*(replication\.factor|min\.insync|min\.isr)[\w.]*=\d+ sensitive=false synonyms=\{/);
      expect(out).toMatch(/^\s+default\.replication\.factor=1 /m);
      expect(out).toMatch(/^\s+min\.insync\.replicas=1 /m);
    },
  },
  {
    what: "configs of dead-letter.queue: its dynamic settings, the catalogue's among them",
    match: /kafka-configs\.sh .*--entity-type topics --entity-name dead-letter\.queue --describe$/,
    check: (out) => {
      const [head, ...settings] = lines(out);
      expect(head).toBe('Dynamic configs for topic dead-letter.queue are:');
      for (const l of settings) expect(l).toMatch(/^\s+[\w.]+=\S* sensitive=(true|false) synonyms=\{/);
      expect(out).toMatch(/^\s+compression\.type=gzip /m);
      expect(out).toMatch(/^\s+retention\.ms=2592000000 /m);
    },
  },
  {
    what: 'broker-api-versions | head -3: broker 0 at its advertised name, then the API versions it serves',
    match: /kafka-broker-api-versions\.sh .* \| head -3$/,
    check: (out) => {
      const [head, ...apis] = lines(out);
      expect(head).toMatch(new RegExp(`^kafka-0\\.kafka-headless\\.${NS}\\.svc\\.cluster\\.local:9092 \\(id: 0 rack: null`));
      expect(apis).toHaveLength(2);
      for (const a of apis) expect(a).toMatch(/^\t\w+\(\d+\): /);
    },
  },
  {
    what: 'topics --delete: deletes the topic, prints nothing (run on a scratch topic)',
    match: /kafka-topics\.sh .*--delete --topic learning\.queries$/,
    rewrite: (t) => t.replace('--topic learning.queries', `--topic ${SCRATCH_TOPIC}`),
    check: (out) => expect(out).toBe(''),
  },
];
const CATALOGUE_TOPICS = loadCatalogue(REPO).topics.map((t) => t.name);

describe('the Kafka lines README and docs/ give, pasted against the broker on the real node', () => {
  /** A documented line as a user runs it, in bash, with the cluster's kubectl and kubeconfig. */
  const paste = (text: string, input?: string) => runProcess('bash', ['-c', text], { env: { ...process.env, ...cluster().env }, input, timeoutMs: 2 * MIN });

  it('every documented line has its check, and every check a documented line', () => {
    expect(DOC_KAFKA_LINES.length).toBeGreaterThanOrEqual(DOC_LINE_CHECKS.length);
    for (const f of DOC_KAFKA_LINES)
      expect(
        DOC_LINE_CHECKS.filter((c) => c.match.test(f.text)).map((c) => c.what),
        `${f.where}: ${f.text}`,
      ).toHaveLength(1);
    for (const c of DOC_LINE_CHECKS)
      expect(
        DOC_KAFKA_LINES.some((f) => c.match.test(f.text)),
        c.what,
      ).toBe(true);
  });

  it('the broker runs with what the manifest chose: G1, no GC log file, the console logging config for the server alone', { timeout: 2 * MIN }, async () => {
    const inPod = (script: string) => cluster().kubectl(['exec', 'kafka-0', '-n', NS, '-c', 'kafka', '--', 'sh', '-c', script]);
    const cmdline = await inPod("tr '\\0' ' ' </proc/1/cmdline");
    expect(cmdline).toContain(` ${KAFKA_JVM_PERFORMANCE_OPTS} `);
    expect(cmdline).toContain(SERVER_ONLY_ENV.KAFKA_OPTS);
    expect(cmdline).not.toContain('-Xlog:gc');
    expect(await inPod('ls /opt/kafka/logs 2>/dev/null || true')).not.toMatch(/gc\.log/);
    // What a kubectl exec starts with: no logging option of the broker's.
    expect(await inPod('env')).not.toMatch(/^KAFKA_(OPTS|LOG4J_OPTS)=/m);
  });

  it('each prints its answer on stdout and no log line', { timeout: 10 * MIN }, async () => {
    // The scratch topic the delete line deletes.
    const create = await paste(
      `kubectl exec kafka-0 -n ${NS} -- env KAFKA_HEAP_OPTS=-Xmx128m /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic ${SCRATCH_TOPIC} --partitions 1 --replication-factor 1`,
    );
    expect(create.code, create.stderr).toBe(0);
    const failures: string[] = [];
    for (const c of DOC_LINE_CHECKS) {
      for (const f of DOC_KAFKA_LINES.filter((l) => c.match.test(l.text))) {
        const text = (c.rewrite ?? ((t: string) => t))(f.text.replace(/^kubectl exec -it /, 'kubectl exec -i '));
        const r = await paste(text, c.input);
        try {
          expect(r.code, r.stderr.slice(-2000)).toBe(0);
          expect(r.stdout, 'a log line on stdout').not.toMatch(LOG_LINE);
          c.check(r.stdout);
        } catch (e) {
          failures.push(`${f.where} (${c.what}):\n  $ ${text}\n  ${(e as Error).message.split('\n').join('\n  ')}\n  stdout:\n${r.stdout.slice(0, 1500)}`);
        }
      }
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    const list = await paste(
      `kubectl exec kafka-0 -n ${NS} -- env KAFKA_HEAP_OPTS=-Xmx128m /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --list`,
    );
    expect(lines(list.stdout)).not.toContain(SCRATCH_TOPIC);
  });
});

describe('day 2 on the real node: backup and restore', () => {
  it('backup-postgres then restore-postgres round trip through a real kubectl exec (no --pg-url)', { timeout: 3 * MIN }, async () => {
    const file = path.join(tmp, 'learnflow-backup');
    const b = await kit('scripts/backup-postgres.mts', ['--output', file]);
    expect(b.code, b.stderr).toBe(0);
    // pg_dump ran in the pod, its output carried back by kubectl exec.
    expect(b.stderr).toMatch(/kubectl --context \S+ exec -n learnflow postgresql-0 -c postgresql -- .*pg_dump/);
    const dump = readFileSync(path.join(file, 'db/learnflow.sql'), 'utf8');
    expect(dump).toContain('PostgreSQL database dump');
    expect(dump).toMatch(/CREATE TABLE public\.topics/);

    // Change the data behind the kit's back, then restore.
    await psql("UPDATE public.topics SET title = title || ' (edited)' WHERE position = 1; DELETE FROM public.progress;");
    expect(await checksums()).not.toEqual(seeded);
    const r = await kit('scripts/restore-postgres.mts', ['--input', file, '--force', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/kubectl --context \S+ exec -i -n learnflow postgresql-0 -c postgresql -- .*psql/);
    expect(r.stderr).toMatch(/database learnflow — 10 tables in the backup/);
    expect(await checksums()).toEqual(seeded);
  });
});

// Two namespaces that share nothing but the node: the faults (seconds of CPU, then back-off) while PostgreSQL rolls
// three times (mostly waiting for probes). Together they take as long as the TLS round alone.
describe.concurrent(
  "at the same time: real faults in their own namespace, named within 30 s with the fix (the bundle holds the real logs and events); TLS on, off, on in the stack's",
  () => {
    it(
      'a PostgreSQL that exits at start (a volume of an older major: CrashLoopBackOff) and a Kafka killed for memory (OOMKilled)',
      { timeout: 4 * MIN },
      async () => {
        const c = cluster();
        // Kafka: in this namespace only (the kit's manifests unchanged), its memory limit lowered at admission to 256Mi,
        // below the kit's 512 MiB heap, which the JVM touches at start (-XX:+AlwaysPreTouch): the kernel kills it at
        // once. (With the limit alone the JVM thrashes on its page cache for a long while before it is killed.)
        await c.apply(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'List',
            items: [
              {
                apiVersion: 'admissionregistration.k8s.io/v1beta1',
                kind: 'MutatingAdmissionPolicy',
                metadata: { name: 'learnflow-test-kafka-oom' },
                spec: {
                  matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
                  matchConditions: [
                    { name: 'kafka', expression: "has(object.metadata.labels) && object.metadata.labels[?'app.kubernetes.io/name'].orValue('') == 'kafka'" },
                  ],
                  failurePolicy: 'Fail',
                  reinvocationPolicy: 'Never',
                  mutations: [
                    {
                      patchType: 'JSONPatch',
                      jsonPatch: {
                        expression: `[
  JSONPatch{op: "replace", path: "/spec/containers/0/resources/limits/memory", value: "256Mi"},
  JSONPatch{op: "replace", path: "/spec/containers/0/resources/requests/memory", value: "256Mi"},
  JSONPatch{op: "add", path: "/spec/containers/0/env/-", value: Object.spec.containers.env{name: "JAVA_TOOL_OPTIONS", value: "-XX:+AlwaysPreTouch"}}
]`,
                      },
                    },
                  ],
                },
              },
              {
                apiVersion: 'admissionregistration.k8s.io/v1beta1',
                kind: 'MutatingAdmissionPolicyBinding',
                metadata: { name: 'learnflow-test-kafka-oom' },
                spec: {
                  policyName: 'learnflow-test-kafka-oom',
                  matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': FAULTS } } },
                },
              },
              { apiVersion: 'v1', kind: 'Namespace', metadata: { name: FAULTS } },
            ],
          }),
        );
        // PostgreSQL: its claim bound to a volume that holds the data directory of PostgreSQL 16 (what a user has after
        // bumping the pinned major), written into the node's hostPath directory as the image's user left it.
        const free = (
          await json<{ items: { metadata: { name: string }; spec: { claimRef?: object; hostPath: { path: string } } }[] }>([
            'get',
            'pv',
            '-l',
            'learnflow.test/pv=real-node',
          ])
        ).items.filter((v) => !v.spec.claimRef);
        const pv = free[free.length - 1]!;
        const pgdata = path.join(pv.spec.hostPath.path, 'pgdata');
        const { chownSync, mkdirSync, writeFileSync } = await import('node:fs');
        mkdirSync(pgdata, { mode: 0o700 });
        writeFileSync(path.join(pgdata, 'PG_VERSION'), '16\n');
        writeFileSync(path.join(pgdata, 'postgresql.conf'), '');
        for (const f of ['', 'PG_VERSION', 'postgresql.conf']) chownSync(path.join(pgdata, f), 999, 999);
        await c.apply(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: 'data-postgresql-0', namespace: FAULTS },
            spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'standard', volumeName: pv.metadata.name, resources: { requests: { storage: '5Gi' } } },
          }),
        );

        try {
          const r = await kit('deploy-all.mts', ['--namespace', FAULTS, '--skip', 'dapr', '--json'], 2 * MIN);
          expect(r.stderr).not.toMatch(STACK_TRACE);
          expect(r.code, r.stderr.slice(-3000)).toBe(1);
          expect(r.durationMs).toBeLessThan(30_000);
          expect(r.stderr).toMatch(
            /\[kafka\] ✗ statefulset\/kafka cannot become ready: pod kafka-0 is container kafka: CrashLoopBackOff \(last exit: OOMKilled\), [1-9]\d* restarts/,
          );
          expect(r.stderr).toContain('see docs/troubleshooting.md#oomkilled');
          // The fix names the cause it can see: the kit's 512 MiB heap above the 256Mi limit set at admission.
          expect(r.stderr).toContain(
            '[kafka] ✗ fix: container kafka was killed at its own memory limit: its JVM heap (-Xmx512m, from KAFKA_HEAP_OPTS) does not fit in its limit of 256Mi',
          );
          // Each error carries the crashed run's last log lines, in the container's own words (a real kubectl logs --previous).
          expect(r.stderr).toContain(`[kafka]   its last log lines (kubectl logs kafka-0 -c kafka -n ${FAULTS} --previous --tail=5):`);
          expect(r.stderr).toMatch(/\[kafka\]\s+.*Killed +"\$KAFKA_HOME\/bin\/kafka-storage.sh" format/);
          expect(r.stderr).toContain(`[postgres]   its last log lines (kubectl logs postgresql-0 -c postgresql -n ${FAULTS} --previous --tail=5):`);
          expect(r.stderr).toMatch(/\[postgres\]\s+.*initialized by PostgreSQL version 16, which is not compatible with this version 17\./);
          expect(r.stderr).toMatch(
            /\[postgres\] ✗ statefulset\/postgresql cannot become ready: pod postgresql-0 is container postgresql: CrashLoopBackOff, [1-9]\d* restarts/,
          );
          expect(r.stderr).toContain(`[postgres] ✗ fix: kubectl logs postgresql-0 -c postgresql -n ${FAULTS} --previous`);
          expect(r.stderr).toContain('see docs/troubleshooting.md#crashloopbackoff');
          const rep = report(r.stdout);
          expect(rep.steps.map((s) => [s.name, s.ok])).toEqual([
            ['kafka', false],
            ['postgres', false],
          ]);

          // What the kubelet really reported, and what the fix's own command shows: the cause, in the container's words.
          const pod = async (name: string) =>
            await json<Pod & { spec: { containers: { resources: { limits: Record<string, string> } }[] } }>(['get', 'pod', name, '-n', FAULTS]);
          const kafka = await pod('kafka-0');
          expect(kafka.spec.nodeName).toBe(c.realNode.name);
          expect(kafka.spec.containers[0]!.resources.limits.memory).toBe('256Mi');
          expect(kafka.status.containerStatuses?.[0]?.lastState?.terminated?.reason).toBe('OOMKilled');
          const previous = await c.kubectl(['logs', 'postgresql-0', '-c', 'postgresql', '-n', FAULTS, '--previous']);
          expect(previous).toMatch(/FATAL: +database files are incompatible with server/);
          expect(previous).toMatch(/initialized by PostgreSQL version 16, which is not compatible with this version 17\./);

          // The bundle: real container logs (kubectl logs) and the kubelet's events.
          const dir = rep.artifacts?.diagnostics;
          expect(dir).toMatch(/^\.learnflow\/diagnostics\//);
          expect(r.stderr).toContain(`diagnostics bundle: ${dir}/`);
          const bundle = (f: string) => readFileSync(path.join(REPO, dir!, f), 'utf8');
          expect(bundle(`logs/${FAULTS}_postgresql-0_postgresql.log`)).toMatch(/FATAL: +database files are incompatible with server/);
          const kafkaLog = bundle(`logs/${FAULTS}_kafka-0_kafka.log`);
          // The last run once: for a container waiting to restart, plain logs and --previous are the same run.
          expect(kafkaLog).toMatch(/^# previous container \(the last run; the container is CrashLoopBackOff now\)\n/);
          expect(kafkaLog.split('Picked up JAVA_TOOL_OPTIONS').length).toBe(2);
          expect(kafkaLog).toContain('Picked up JAVA_TOOL_OPTIONS: -XX:+AlwaysPreTouch');
          expect(kafkaLog).toMatch(/line \d+: +\d+ Killed +"\$KAFKA_HOME\/bin\/kafka-storage.sh" format/);
          const events = bundle(`${FAULTS}-events.txt`);
          expect(events).toMatch(/Started\s+pod\/kafka-0\s+Started container kafka/);
          expect(events).toMatch(/BackOff\s+pod\/postgresql-0\s+Back-off restarting failed container postgresql/);
          expect(events).toMatch(/BackOff\s+pod\/kafka-0\s+Back-off restarting failed container kafka/);
          expect(bundle(`${FAULTS}-pods-describe.txt`)).toMatch(/Last State:\s+Terminated\s+Reason:\s+OOMKilled/);
          expect(bundle('summary.txt')).toContain(`${FAULTS}/kafka-0: container kafka: CrashLoopBackOff (last exit: OOMKilled)`);
        } finally {
          await c.kubectl(['delete', 'mutatingadmissionpolicybinding,mutatingadmissionpolicy', 'learnflow-test-kafka-oom', '--ignore-not-found']);
          // Gone at once: the crashing pods hold CPU requests on the real node that the next tests need.
          await c.kubectl(['delete', 'namespace', FAULTS, '--wait=false']);
          await c
            .kubectl(['delete', 'statefulset,pod', '--all', '-n', FAULTS, '--grace-period=0', '--force', '--ignore-not-found'], { timeoutMs: 30_000 })
            .catch(() => '');
        }
      },
    );

    it(
      "deploy-postgres --tls, --no-tls, --tls: the server follows, deploy and verify (every client, through the kit's own path) succeed each time, the client Secrets' sslmode follows",
      { timeout: 5 * MIN },
      async () => {
        for (const [flag, ssl, sslmode] of [
          ['--tls', 'on', 'require'],
          ['--no-tls', 'off', 'prefer'],
          ['--tls', 'on', 'require'],
        ] as const) {
          const uid = (await pods()).find((p) => p.metadata.name === 'postgresql-0')!.metadata.uid;
          const d = await kit('scripts/deploy-postgres.mts', [flag, '--json']);
          expect(d.code, `${flag}: ${d.stderr.slice(-3000)}`).toBe(0);
          expect(report(d.stdout).steps[0]!.changes!['statefulset/postgresql'], flag).toBe('configured');
          const now = (await pods()).find((p) => p.metadata.name === 'postgresql-0')!;
          expect(now.metadata.uid, `${flag}: the pod was replaced`).not.toBe(uid);
          expect((await psql('SHOW ssl')).trim(), flag).toBe(ssl);
          for (const s of ['dapr-statestore', 'student-api-db', 'tutor-api-db', 'matching-service-db']) {
            expect(await secretValue(s, 'connectionString'), `${flag}: ${s}`).toContain(`sslmode=${sslmode}`);
          }
          const v = await kit('scripts/verify-postgres.mts', ['--json']);
          expect(v.code, `${flag}: ${v.stderr.slice(-3000)}`).toBe(0);
          expect(failedChecks(report(v.stdout)), flag).toEqual([]);
          expect(v.stderr, flag).toMatch(/connecting through port-forward 127\.0\.0\.1:\d+ -> svc\/postgresql:5432/);
        }
        expect(await checksums()).toEqual(seeded);
      },
    );
  },
);

describe('security on the real node', () => {
  it('the kit\'s pods pass Pod Security "restricted" and run as the uids and gids they declare', { timeout: 2 * MIN }, async () => {
    const { spawnSync } = await import('node:child_process');
    const restricted = () =>
      spawnSync(
        'kubectl',
        ['--context', cluster().context, 'label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted', '--overwrite', '--dry-run=server'],
        { env: cluster().env, encoding: 'utf8' },
      );
    const ok = restricted();
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).not.toMatch(/violate/i);

    const kitPods = (await pods()).filter((p) => p.spec.nodeName === cluster().realNode.name);
    expect(kitPods.map((p) => p.metadata.name).sort()).toEqual(['kafka-0', 'postgresql-0', 'redis-0']);
    for (const p of kitPods) {
      const c = p.spec.containers[0]!;
      const uid = c.securityContext?.runAsUser ?? p.spec.securityContext?.runAsUser;
      const gid = c.securityContext?.runAsGroup ?? p.spec.securityContext?.runAsGroup;
      expect(uid, `${p.metadata.name} declares a uid`).toBeGreaterThan(0);
      expect(gid, `${p.metadata.name} declares a gid`).toBeGreaterThan(0);
      const exec = (...cmd: string[]) => cluster().kubectl(['exec', '-n', NS, p.metadata.name, '-c', c.name, '--', ...cmd]);
      expect((await exec('id', '-u')).trim(), p.metadata.name).toBe(String(uid));
      expect((await exec('id', '-g')).trim(), p.metadata.name).toBe(String(gid));
      // The container's first process (what the image's entrypoint became), not only what exec gets.
      const status = await exec('cat', '/proc/1/status');
      expect(/^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/), p.metadata.name).toEqual([String(uid), String(uid), String(uid), String(uid)]);
      expect(/^Gid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/), p.metadata.name).toEqual([String(gid), String(gid), String(gid), String(gid)]);
      expect(/^CapEff:\s+(\S+)$/m.exec(status)?.[1], `${p.metadata.name}: no capabilities`).toBe('0000000000000000');
    }

    // The check can fail: a pod that is only "baseline" is reported (it carries the probe label: it stays on KWOK).
    await cluster().apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'baseline-only', namespace: NS, labels: { 'learnflow.dev/dapr-probe': 'check' } },
        spec: { containers: [{ name: 'c', image: 'baseline-only' }] },
      }),
    );
    try {
      const bad = restricted().stderr;
      expect(bad).toMatch(/existing pods in namespace "learnflow" violate the new PodSecurity enforce level "restricted:latest"/);
      expect(bad).toMatch(/baseline-only: allowPrivilegeEscalation != false/);
    } finally {
      await cluster().kubectl(['delete', 'pod', 'baseline-only', '-n', NS, '--wait=false']);
    }
  });
});

describe('two stacks on one cluster, each with its own laptop ports and forwards', () => {
  it(
    'a second stack in a "restricted" namespace: the level is kept, both are forwarded and verified at once, each check reaches its own servers; destroying one leaves the other green',
    { timeout: 12 * MIN },
    async () => {
      // The file's own hold, when the port-forward test failed before giving it back: waiting on it would wait on ourselves.
      releasePortLock?.();
      releasePortLock = undefined;
      const release = await holdLock(KAFKA_LOCAL_PORT_LOCK);
      const pf = (cmd: string, ns: string) => kit('scripts/port-forward.mts', [cmd, '--namespace', ns], 2 * MIN);
      try {
        await cluster().apply(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: TEAM_B, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'team.example/owner': 'b' } },
          }),
        );
        const daprRevisions = async () => (await json<{ items: unknown[] }>(['get', 'secret', '-n', 'dapr-system', '-l', 'owner=helm,name=dapr'])).items.length;
        const revisionsBefore = await daprRevisions();

        const d = await kit('deploy-all.mts', ['--namespace', TEAM_B, '--json'], 6 * MIN);
        expect(d.stderr).not.toMatch(STACK_TRACE);
        expect(d.code, d.stderr.slice(-4000)).toBe(0);
        const deployed = report(d.stdout);
        // Its own laptop ports, the next free slot after learnflow's, in the summary and advertised by its broker.
        const connect = (deployed.data as { howToConnect: string[] }).howToConnect.join('\n');
        expect(connect).toContain('laptop: 127.0.0.1:29102');
        expect(connect).toContain('laptop: 127.0.0.1:15432');
        expect(connect).toContain(`./scripts/port-forward.mts start --namespace ${TEAM_B}`);
        const brokerEnv = await cluster().kubectl(['get', 'configmap', 'kafka-broker-env', '-n', TEAM_B, '-o', 'jsonpath={.data.kafka-0\\.env}']);
        expect(brokerEnv).toContain('LOCAL://127.0.0.1:29102');
        // The shared Dapr control plane was left as it was: no upgrade, no new Helm revision.
        expect(deployed.steps.find((s) => s.name === 'dapr')?.changes?.['helm release dapr']).toBe('unchanged');
        expect(await daprRevisions()).toBe(revisionsBefore);
        // The admin's level and label are still there, and the stack runs under them on the real node.
        const labels = (await json<{ metadata: { labels: Record<string, string> } }>(['get', 'namespace', TEAM_B])).metadata.labels;
        expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
        expect(labels['team.example/owner']).toBe('b');
        expect(labels['pod-security.kubernetes.io/warn']).toBe('restricted');
        const teamPods = await pods(TEAM_B);
        expect(teamPods.map((p) => p.metadata.name).sort()).toEqual(['kafka-0', 'postgresql-0']);
        for (const p of teamPods) expect([p.metadata.name, p.spec.nodeName, ready(p)]).toEqual([p.metadata.name, cluster().realNode.name, true]);

        // Both stacks forwarded at once, each by its own supervisor.
        const startA = await pf('start', NS);
        expect(startA.code, startA.stderr).toBe(0);
        const startB = await pf('start', TEAM_B);
        expect(startB.code, startB.stderr).toBe(0);
        expect(startB.stdout).toMatch(/postgresql\s+127\.0\.0\.1:15432\s+svc\/postgresql:5432\s+\d+\s+up\s+0\s+yes/);
        expect(startB.stdout).toMatch(/kafka-0\s+127\.0\.0\.1:29102\s+pod\/kafka-0:29102\s+\d+\s+up\s+0\s+yes/);
        const statusB = await kit('scripts/port-forward.mts', ['--quiet', 'status', '--namespace', TEAM_B]);
        expect(statusB.code, statusB.stderr).toBe(0);
        expect(statusB.stdout).toContain(`-n ${TEAM_B} -o jsonpath`);
        expect(statusB.stdout).not.toMatch(/-n learnflow\b|127\.0\.0\.1:29092/);

        // verify-all green on both at the same time.
        const [va, vb] = await Promise.all([
          kit('verify-all.mts', ['--skip-probe', '--json'], 4 * MIN),
          kit('verify-all.mts', ['--namespace', TEAM_B, '--skip-probe', '--json'], 4 * MIN),
        ]);
        expect(va.code, va.stderr.slice(-3000)).toBe(0);
        expect(vb.code, vb.stderr.slice(-3000)).toBe(0);
        expect(failedChecks(report(va.stdout))).toEqual([]);
        expect(failedChecks(report(vb.stdout))).toEqual([]);
        expect(vb.stderr).toMatch(/127\.0\.0\.1:29102/);

        // Each forward reaches its own stack: two Kafka clusters, two databases.
        const clusterIdOf = async (port: number) => {
          const admin = new Kafka({ brokers: [`127.0.0.1:${port}`], clientId: 'two-stacks', logLevel: logLevel.NOTHING, retry: { retries: 3 } }).admin();
          await admin.connect();
          try {
            return (await admin.describeCluster()).clusterId;
          } finally {
            await admin.disconnect();
          }
        };
        const deployedId = async (ns: string) =>
          cluster().kubectl(['get', 'statefulset', 'kafka', '-n', ns, '-o', `jsonpath={.spec.template.spec.containers[0].env[?(@.name=="CLUSTER_ID")].value}`]);
        const [idA, idB] = [await clusterIdOf(29092), await clusterIdOf(29102)];
        expect(idA).toBe(await deployedId(NS));
        expect(idB).toBe(await deployedId(TEAM_B));
        expect(idA).not.toBe(idB);
        const pgPortA = readState(path.join(REPO, '.learnflow/port-forward', cluster().context.replace(/[^A-Za-z0-9._-]/g, '_'), `${NS}.json`))!.forwards.find(
          (f) => f.protocol === 'postgres',
        )!.localPort;
        const sql = async (port: number, ns: string, q: string) => {
          const client = new pg.Client({
            host: '127.0.0.1',
            port,
            user: 'learnflow_user',
            password: await secretValue('postgresql-credentials', 'password', ns),
            database: 'learnflow',
            connectionTimeoutMillis: 10_000,
          });
          await client.connect();
          try {
            return (await client.query<{ n: string }>(q)).rows;
          } finally {
            await client.end();
          }
        };
        const probe = 'CREATE TABLE IF NOT EXISTS public.two_stacks_probe (v text)';
        await sql(15432, TEAM_B, probe);
        await sql(15432, TEAM_B, "INSERT INTO public.two_stacks_probe VALUES ('written in team-b')");
        await sql(pgPortA, NS, probe);
        try {
          expect(await sql(15432, TEAM_B, 'SELECT count(*) AS n FROM public.two_stacks_probe')).toEqual([{ n: '1' }]);
          expect(await sql(pgPortA, NS, 'SELECT count(*) AS n FROM public.two_stacks_probe')).toEqual([{ n: '0' }]);
        } finally {
          await sql(pgPortA, NS, 'DROP TABLE public.two_stacks_probe');
        }

        // Destroying team-b leaves learnflow green.
        expect((await pf('stop', TEAM_B)).code).toBe(0);
        const gone = await kit('destroy-all.mts', ['--namespace', TEAM_B, '--purge', '--yes', '--json'], 4 * MIN);
        expect(gone.code, gone.stderr.slice(-3000)).toBe(0);
        await waitFor('team-b pods gone', async () => ((await pods(TEAM_B)).length === 0 ? true : undefined), { timeoutMs: 120_000, intervalMs: 1000 });
        const again = await kit('verify-all.mts', ['--skip-probe', '--json'], 4 * MIN);
        expect(again.code, again.stderr.slice(-3000)).toBe(0);
        expect(failedChecks(report(again.stdout))).toEqual([]);
      } finally {
        await pf('stop', TEAM_B);
        await pf('stop', NS);
        release();
      }
    },
  );
});
