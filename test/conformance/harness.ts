// The Dapr conformance layer's moving parts, used by dapr-conformance.test.ts: the kit's own role setup and topic
// code against the test substrate's real PostgreSQL and Kafka, the metadata the kit renders turned into the
// properties daprd hands a component, and a run of the compiled upstream suites (go test -json) whose every
// subtest is counted. See docs/testing-substrate.md ("Dapr conformance suites").

import { libpqConnectionString } from '../../scripts/lib/components/shared/postgres-topology.js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { renderComponents } from '../../scripts/lib/components/dapr/manifests.js';
import { DEFAULT_CONSUMER_GROUP, PUBSUB, STATESTORE } from '../../scripts/lib/components/dapr/settings.js';
import { ensureStateStoreRole, inClusterTarget, type RoleSetupResult } from '../../scripts/lib/components/dapr/statestore.js';
import { loadCatalogue, type CatalogueTopic } from '../../scripts/lib/components/kafka/catalogue.js';
import { createKafka } from '../../scripts/lib/components/shared/kafka-client.js';
import { applyPlan, observeTopics, planReconcile, type TopicOutcome } from '../../scripts/lib/components/kafka/reconcile.js';
import { inClusterBootstrap } from '../../scripts/lib/components/shared/kafka-topology.js';
import { COMMON_FLAGS } from '../../scripts/lib/core/config.js';
import { DB_NAME, generatePassword } from '../../scripts/lib/components/shared/postgres-credentials.js';
import { memoryLogger } from '../../scripts/lib/core/log.js';
import type { Manifest } from '../../scripts/lib/kube/manifests.js';
import { runProcess } from '../support/process.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Read by test/run-all.sh: every upstream subtest is added to its closing count. */
export const RESULTS_FILE = join(REPO_ROOT, 'test-results', 'conformance.json');
export const LOG_FILE = join(REPO_ROOT, 'test-results', 'conformance.log');

export const NAMESPACE = String(COMMON_FLAGS.find((f) => f.name === 'namespace')?.default ?? '');
/** What daprd fills in for {appID}: any app id; the suites stand for one LearnFlow service. */
export const APP_ID = 'conformance';

// ------------------------------------------------------------------------------------------ the binary

/** The cached build of test/conformance (provision-conformance.sh --check); throws, saying how to build it. */
export async function conformanceBuild(): Promise<{ dir: string; binary: string; upstreamConfig: string }> {
  const r = await runProcess('bash', [join(REPO_ROOT, 'test/substrate/provision-conformance.sh'), '--check'], { timeoutMs: 30_000 });
  const dir = r.stdout.trim();
  if (r.code !== 0 || !dir)
    throw new Error(`Dapr conformance suites not provisioned: ${r.stderr.trim() || `provision-conformance.sh --check exited ${r.code}`}`);
  return { dir, binary: join(dir, 'conformance.test'), upstreamConfig: join(dir, 'upstream-config') };
}

// ------------------------------------------------------------------ PostgreSQL: the kit's role setup

export interface StateStoreLogin {
  /** What ensureStateStoreRole reported. */
  roles: RoleSetupResult;
  /** The kit's connection string (libpqConnectionString), host and port those of the test server. */
  connectionString: string;
  password: string;
}

/**
 * What install-dapr does to PostgreSQL (scripts/lib/components/dapr/index.ts deploy): a generated password, the
 * dapr_state role, its schema and search_path set up by ensureStateStoreRole as the superuser, then the connection
 * string for the in-cluster target with sslmode from what the server serves. Only host and port differ: the
 * test server's instead of the Service's.
 */
export async function setUpStateStoreRole(superuserUrlToDb: string, port: number, opts: { password?: string } = {}): Promise<StateStoreLogin> {
  const password = opts.password ?? generatePassword();
  const client = new pg.Client({ connectionString: superuserUrlToDb });
  await client.connect();
  try {
    const roles = await ensureStateStoreRole(client, { password });
    const ssl = (await client.query<{ ssl: string }>("SELECT current_setting('ssl') AS ssl")).rows[0]?.ssl === 'on';
    const connectionString = libpqConnectionString({ ...inClusterTarget(NAMESPACE), host: '127.0.0.1', port }, password, ssl ? 'require' : 'prefer');
    return { roles, connectionString, password };
  } finally {
    await client.end();
  }
}

export { DB_NAME };

// --------------------------------------------------------------------- Kafka: the kit's topic code

export const TOPIC_KEYS = ['testTopicName', 'testTopicForBulkSub', 'testMultiTopic1Name', 'testMultiTopic2Name'] as const;

/** The suite's topic names for one run (upstream's config keys -> names the catalogue's rules accept). */
export function suiteTopics(run: string): Record<(typeof TOPIC_KEYS)[number], string> {
  return {
    testTopicName: `conformance.${run}.topic`,
    testTopicForBulkSub: `conformance.${run}.bulk`,
    testMultiTopic1Name: `conformance.${run}.multi1`,
    testMultiTopic2Name: `conformance.${run}.multi2`,
  };
}

/**
 * The suite's topics, created the way deploy-kafka creates the catalogue's (planReconcile + applyPlan), shaped like
 * the catalogue's first topic (retention, compression, cleanup policy, extra settings) but with one partition:
 * the suite checks delivery order, which Kafka keeps within a partition only (upstream's broker gives one).
 */
export async function createSuiteTopics(brokers: string[], names: string[]): Promise<{ before: string[]; outcome: Record<string, TopicOutcome> }> {
  const template = loadCatalogue(REPO_ROOT).topics[0];
  if (!template) throw new Error('the topic catalogue is empty');
  const topics: CatalogueTopic[] = names.map((name) => ({ ...template, name, description: 'Dapr conformance suite', partitions: 1 }));
  const admin = createKafka(brokers, memoryLogger(false)).admin();
  await admin.connect();
  try {
    const before = await admin.listTopics();
    const plan = planReconcile(topics, await observeTopics(admin, names), 1);
    const outcome = await applyPlan(admin, plan);
    return { before, outcome };
  } finally {
    await admin.disconnect();
  }
}

// ------------------------------------------------------------ metadata: what the kit renders, as daprd sees it

interface MetadataItem {
  name: string;
  value?: string;
  secretKeyRef?: { name: string; key: string };
}

/**
 * A component's properties as daprd hands them to the component's Init: secretKeyRef values read from the Secret
 * the kit renders with it (the operator does this in a cluster, from the same Secret), then daprd's substitutions
 * (dapr/dapr v1.18.3 pkg/runtime/meta/meta.go convertItemsToProps: {uuid}, {podName}, {namespace}, {appID}).
 */
export function componentProperties(manifests: Manifest[], name: string): { type: string; version: string; metadata: Record<string, string> } {
  const component = manifests.find((m) => m.kind === 'Component' && m.metadata.name === name) as
    (Manifest & { spec: { type: string; version: string; metadata: MetadataItem[] } }) | undefined;
  if (!component) throw new Error(`the kit renders no Component ${name}`);
  const metadata: Record<string, string> = {};
  for (const item of component.spec.metadata) {
    let value = item.value;
    if (item.secretKeyRef) {
      const { name: secretName, key } = item.secretKeyRef;
      const secret = manifests.find((m) => m.kind === 'Secret' && m.metadata.name === secretName) as
        (Manifest & { stringData?: Record<string, string>; data?: Record<string, string> }) | undefined;
      const fromSecret =
        secret?.stringData?.[key] ?? (secret?.data?.[key] === undefined ? undefined : Buffer.from(secret.data[key]!, 'base64').toString('utf8'));
      if (fromSecret === undefined)
        throw new Error(`Component ${name}: metadata ${item.name} refers to Secret ${secretName} key ${key}, which the kit does not render`);
      value = fromSecret;
    }
    if (value === undefined) throw new Error(`Component ${name}: metadata ${item.name} has neither a value nor a secretKeyRef`);
    value = value.replace(/\{uuid\}/g, () => randomUUID());
    if (value.includes('{podName}')) value = value.replaceAll('{podName}', `${APP_ID}-0`);
    value = value.replaceAll('{namespace}', `${NAMESPACE}.${APP_ID}`).replaceAll('{appID}', APP_ID);
    metadata[item.name] = value;
  }
  return { type: component.spec.type, version: component.spec.version, metadata };
}

export interface SuiteRun {
  name: string;
  component: string;
  type: string;
  version: string;
  metadata: Record<string, string>;
  config: Record<string, unknown>;
}

export interface Spec {
  pubsub: SuiteRun[];
  state: SuiteRun[];
}

/**
 * The retry settings of the second pubsub run: the kit's backOff* keys (read by components-contrib through dapr/kit
 * retry.DecodeConfigWithPrefix, prefix "backOff") set to other valid values, so the component's reading of each
 * key is exercised twice. Every key must be one the kit renders: this changes values, it adds no keys.
 */
export const BACKOFF_CHANGES: Record<string, string> = { backOffPolicy: 'exponential', backOffDuration: '1s', backOffMaxRetries: '5' };

/**
 * The kit's components (renderComponents, the same call install-dapr makes) with the substrate's addresses: the
 * brokers the kit points at the in-cluster bootstrap Service, the connection string the kit builds for the
 * in-cluster PostgreSQL. Two pubsub runs (as rendered; backOff* changed) and one state run.
 */
export function buildSpec(kafkaBrokers: string[], connectionString: string): Spec {
  const manifests = renderComponents({ namespace: NAMESPACE, consumerGroup: DEFAULT_CONSUMER_GROUP }, connectionString);
  const pubsub = componentProperties(manifests, PUBSUB);
  if (pubsub.metadata.brokers !== inClusterBootstrap(NAMESPACE)) {
    throw new Error(`kafka-pubsub brokers is '${pubsub.metadata.brokers}', expected the in-cluster bootstrap ${inClusterBootstrap(NAMESPACE)}`);
  }
  pubsub.metadata.brokers = kafkaBrokers.join(',');
  const changed = { ...pubsub.metadata };
  for (const [k, v] of Object.entries(BACKOFF_CHANGES)) {
    if (!(k in changed)) throw new Error(`kafka-pubsub: the kit no longer renders ${k}; update BACKOFF_CHANGES`);
    if (changed[k] === v) throw new Error(`kafka-pubsub: ${k} is already '${v}'; pick another value for the second run`);
    changed[k] = v;
  }
  const state = componentProperties(manifests, STATESTORE);
  if (state.metadata.connectionString !== connectionString) throw new Error('statestore: the connection string is not the one the Secret holds');
  const run = (name: string, component: string, c: ReturnType<typeof componentProperties>, config: Record<string, unknown> = {}): SuiteRun => ({
    name,
    component,
    ...c,
    config,
  });
  return {
    pubsub: [
      run('kit', PUBSUB, pubsub, suiteTopics('kit')),
      run('kit-backoff-changed', PUBSUB, { ...pubsub, metadata: changed }, suiteTopics('kit-backoff-changed')),
    ],
    state: [run('kit', STATESTORE, state)],
  };
}

// --------------------------------------------------------------------------- running and counting

export type Status = 'pass' | 'fail' | 'skip' | 'unfinished';

export interface SubtestResult {
  name: string;
  status: Status;
  elapsedS?: number;
}

export interface SuiteResults {
  binary: string;
  /** Everything the suites printed. */
  logFile: string;
  exitCode: number | null;
  /** Every upstream subtest (and each of the kit's key checks), in the order they finished. */
  tests: SubtestResult[];
  passed: number;
  /** Failed, skipped or unfinished subtests, plus one for each failure outside them (a wrapper, the process). */
  failed: number;
  /** What failed outside the counted subtests. */
  otherFailures: string[];
  /** Output per failed test (last lines). */
  failureOutput: Record<string, string>;
  seconds: number;
}

interface TestEvent {
  Action: string;
  Test?: string;
  Output?: string;
  Elapsed?: number;
}

/**
 * The counted tests are those below the wrapper levels: TestX (the suite) and TestX/<run> are this module's; every
 * name below is an upstream subtest (or one metadata key for TestKitMetadataKeys). A skipped or unfinished subtest
 * counts as failed; a failed wrapper or a failed process with no failed subtest counts once.
 */
export function countResults(events: TestEvent[], exitCode: number | null, extra: string[] = []): Omit<SuiteResults, 'binary' | 'logFile' | 'seconds'> {
  const final = new Map<string, Status>();
  const elapsed = new Map<string, number>();
  const output = new Map<string, string[]>();
  for (const e of events) {
    if (!e.Test) continue;
    if (e.Action === 'run') final.set(e.Test, 'unfinished');
    else if (e.Action === 'pass' || e.Action === 'fail' || e.Action === 'skip') {
      final.set(e.Test, e.Action);
      if (e.Elapsed !== undefined) elapsed.set(e.Test, e.Elapsed);
    } else if (e.Action === 'output' && e.Output) {
      const lines = output.get(e.Test) ?? [];
      lines.push(e.Output);
      if (lines.length > 60) lines.shift();
      output.set(e.Test, lines);
    }
  }
  const depth = (n: string) => n.split('/').length;
  const tests: SubtestResult[] = [...final]
    .filter(([n]) => depth(n) >= 3)
    .map(([name, status]) => ({ name, status, ...(elapsed.has(name) ? { elapsedS: elapsed.get(name) } : {}) }));
  const bad = tests.filter((t) => t.status !== 'pass');
  const otherFailures: string[] = [...extra];
  for (const [name, status] of final) {
    if (depth(name) >= 3 || status === 'pass') continue;
    if (!bad.some((t) => t.name.startsWith(`${name}/`))) otherFailures.push(`${name}: ${status}`);
  }
  if (tests.length === 0) otherFailures.push('no upstream subtest ran');
  if (exitCode !== 0 && bad.length === 0 && otherFailures.length === 0) otherFailures.push(`the test binary exited ${exitCode}`);
  const failureOutput: Record<string, string> = {};
  for (const n of [...bad.map((t) => t.name), ...otherFailures.map((f) => f.split(': ')[0]!)]) {
    const out = output.get(n);
    if (out) failureOutput[n] = out.join('');
  }
  return { exitCode, tests, passed: tests.length - bad.length, failed: bad.length + otherFailures.length, otherFailures, failureOutput };
}

/**
 * Runs the compiled suites under `go tool test2json` (the `go test -json` stream, without compiling again), writes
 * every event's output to test-results/conformance.log with `secrets` masked, and counts the subtests.
 */
export async function runSuites(
  build: { binary: string; upstreamConfig: string },
  specFile: string,
  workDir: string,
  secrets: string[],
  { timeoutMs = 12 * 60_000, logFile = LOG_FILE }: { timeoutMs?: number; logFile?: string } = {},
): Promise<SuiteResults> {
  await mkdir(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  const mask = (s: string) => secrets.reduce((acc, x) => (x ? acc.split(x).join('***') : acc), s);
  const started = Date.now();
  const events: TestEvent[] = [];
  const timeoutS = Math.floor(timeoutMs / 1000) - 30;
  const child = spawn('go', ['tool', 'test2json', '-t', '-p', 'dapr-conformance', build.binary, '-test.v=test2json', `-test.timeout=${timeoutS}s`], {
    cwd: workDir,
    env: { ...process.env, GOTOOLCHAIN: 'local', LEARNFLOW_CONFORMANCE_SPEC: specFile, LEARNFLOW_CONFORMANCE_UPSTREAM: build.upstreamConfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const e = JSON.parse(line) as TestEvent;
        if (e.Output) e.Output = mask(e.Output);
        events.push(e);
        if (e.Output) log.write(e.Output);
      } catch {
        log.write(mask(line) + '\n');
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    log.write(mask(d.toString()));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot run 'go tool test2json' (the Go toolchain runs the suites): ${err.message}`)));
    child.once('close', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  await new Promise<void>((resolve) => log.end(resolve));
  // Without a single test event, what the binary or test2json said is the failure (a missing binary, a panic in init).
  const silent = !events.some((e) => e.Test) && stderr.trim() ? [`stderr: ${mask(stderr.trim()).slice(-2000)}`] : [];
  return { binary: build.binary, logFile, ...countResults(events, exitCode, silent), seconds: Math.round((Date.now() - started) / 1000) };
}

export async function writeResults(r: SuiteResults): Promise<void> {
  await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true });
  await writeFile(RESULTS_FILE, JSON.stringify(r, null, 2) + '\n');
}

/** One line per failure with its output's tail, for an assertion message. */
export function describeFailures(r: SuiteResults): string {
  const names = [...r.tests.filter((t) => t.status !== 'pass').map((t) => `${t.name} (${t.status})`), ...r.otherFailures];
  const details = Object.entries(r.failureOutput)
    .slice(0, 8)
    .map(([n, out]) => `--- ${n}\n${out.split('\n').slice(-25).join('\n')}`);
  return `${r.failed} of ${r.passed + r.failed} failed (log: ${r.logFile}):\n  ${names.join('\n  ')}\n${details.join('\n')}`;
}
