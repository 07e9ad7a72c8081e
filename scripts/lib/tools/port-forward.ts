// scripts/port-forward.mts: background port-forwards to PostgreSQL and the Kafka brokers on the stack's laptop
// ports (its record: stack-record.ts), kept up by a supervisor process detached from the terminal. Each
// (context, namespace) has its own supervisor and state file, so two stacks can be forwarded at once. The state
// file, which the supervisor rewrites on every change, is what status and stop read.
//
//   start   resolve what to forward, check the local ports are free, launch `port-forward.mts run` detached,
//           wait until status says every forward answers, print it
//   run     the supervisor itself (foreground): one PortForward.supervise() per forward
//   status  per forward: the supervisor and its kubectl alive, the local port answering with the right protocol
//   stop    SIGTERM the supervisor (and any kubectl it left behind), remove the state file

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PG_NAME, PG_PORT } from '../components/shared/postgres-topology.js';
import { portForwardTargets, STATEFULSET } from '../components/shared/kafka-topology.js';
import { laptopPorts, portsOfSlot, STACK_RECORD } from '../components/shared/stack-record.js';
import { flagPath, shownPath } from '../core/config.js';
import { EnvironmentError, StepError, UsageError, errorMessage } from '../core/errors.js';
import { flag, type FlagSpec } from '../core/flags.js';
import { columns, type Check } from '../core/report.js';
import { REPO_ROOT } from '../core/repo.js';
import { contextName, ensureClusterReachable } from '../preflight/checks.js';
import type { Ctx } from '../run/context.js';
import { localPortInUse, PortForward, type ForwardState, type PortForwardTarget } from '../run/port-forward.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { serverOffersSsl } from '../components/shared/postgres-client.js';

export const SCRIPT_PATH = path.join(REPO_ROOT, 'scripts', 'port-forward.mts');
/** Where each stack's state file goes: <dir>/<context>/<namespace>.json. */
export const STATE_DIR = '.learnflow/port-forward';

const PG_PORT_FLAG = flag({
  name: 'pg-port',
  kind: 'int',
  valueName: 'PORT',
  env: 'LEARNFLOW_PG_PORT',
  description: "local port for PostgreSQL (127.0.0.1:PORT -> svc/postgresql:5432); default: the stack's (5432 for the first stack on a cluster)",
  validate: (v) => (Number(v) >= 1 && Number(v) <= 65535 ? undefined : 'a port is 1-65535'),
});
const ONLY_FLAG = flag({
  name: 'only',
  kind: 'list',
  valueName: 'NAMES',
  choices: ['postgres', 'kafka'],
  description: 'forward only these (default: whatever of PostgreSQL and Kafka is deployed)',
});
const WAIT_FLAG = flag({
  name: 'wait',
  kind: 'duration',
  valueName: 'DURATION',
  default: 60_000,
  description: 'start: how long to wait for every forward to come up',
});
const STATE_FILE_FLAG = flag({
  name: 'state-file',
  kind: 'string',
  valueName: 'FILE',
  env: 'LEARNFLOW_PORT_FORWARD_STATE',
  description: `where the supervisor keeps its pid and state (its log is next to it, .log); default: ${STATE_DIR}/CONTEXT/NAMESPACE.json`,
});

export type Protocol = 'postgres' | 'kafka';

/** One forward: postgresql, kafka-0, kafka-1, ... */
export interface ForwardSpec extends PortForwardTarget {
  name: string;
  protocol: Protocol;
  localPort: number;
}

/** A forward as the state file has it: what it is, and how it is doing (the supervisor's PortForward). */
export interface ForwardStatus extends ForwardSpec {
  state: ForwardState;
  pid?: number;
  restarts: number;
  lastError?: string;
  since: string;
}

export interface StateFile {
  version: 1;
  supervisorPid: number;
  startedAt: string;
  namespace: string;
  context?: string;
  logFile: string;
  forwards: ForwardStatus[];
}

/** What the script needs from the outside world; tests replace it. */
export interface PortForwardDeps {
  spawn: typeof spawn;
  /** Is pid alive and is it (by its command line) what we think it is? */
  isOurs(pid: number, marker: string): boolean;
  kill(pid: number, signal: NodeJS.Signals): void;
  probe: typeof probeLocalPort;
  portInUse: typeof localPortInUse;
  /** How often the supervisor looks at the pods behind each forward; off when unset. */
  podCheckMs?: number;
}

export const realDeps: PortForwardDeps = {
  // One kubectl get per forward every 3 s: a replaced pod is noticed within seconds, before anyone connects.
  podCheckMs: 3000,
  spawn,
  isOurs: processLooksLike,
  kill: (pid, signal) => process.kill(pid, signal),
  probe: probeLocalPort,
  portInUse: localPortInUse,
};

const MARKER = 'port-forward';

/** Alive, and on Linux its command line mentions `marker` (a recycled pid is not ours to kill). */
export function processLooksLike(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!existsSync('/proc/self/cmdline')) return true; // macOS: no /proc; alive is the best we know
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(marker);
  } catch {
    return false;
  }
}

/** The stack's state file: --state-file, else one per (context, namespace) under STATE_DIR. */
export async function stateFilePath(ctx: Ctx): Promise<string> {
  const given = flagPath(ctx.config, STATE_FILE_FLAG, ctx.root);
  if (given) return given;
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_') || '_';
  return path.join(ctx.root, STATE_DIR, safe(await contextName(ctx)), `${ctx.config.namespace}.json`);
}

const logFileOf = (stateFile: string) => stateFile.replace(/\.json$/, '') + '.log';

export function readState(file: string): StateFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    return parsed.version === 1 && Array.isArray(parsed.forwards) ? parsed : undefined;
  } catch {
    return undefined; // absent or corrupt
  }
}

/** Written whole and renamed into place: `status` never reads half a file. */
export function writeState(file: string, state: StateFile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, file);
}

/** The forwards for what is deployed, on the stack's laptop ports: svc/postgresql, and pod/kafka-i:base+i for each broker. */
export async function resolveForwards(ctx: Ctx): Promise<ForwardSpec[]> {
  const only = ctx.config.options.get(ONLY_FLAG);
  const want = (name: string) => !only?.length || only.includes(name);
  const ns = ctx.config.namespace;
  const specs: ForwardSpec[] = [];
  const ports = await laptopPorts(ctx);
  if (want('postgres')) {
    const svc = await ctx.kube.getOptional<{ spec?: { selector?: Record<string, string> } }>('service', PG_NAME);
    const selector = Object.entries(svc?.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`);
    const localPort = ctx.config.options.get(PG_PORT_FLAG) ?? ports.postgres;
    if (svc)
      specs.push({
        name: 'postgresql',
        protocol: 'postgres',
        resource: `svc/${PG_NAME}`,
        remotePort: PG_PORT,
        localPort,
        podSelector: selector.join(',') || undefined,
      });
    else ctx.log.warn(`no service/${PG_NAME} in namespace ${ns}: not forwarding PostgreSQL (deploy it: ./scripts/deploy-postgres.mts)`);
  }
  if (want('kafka')) {
    const sts = await ctx.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', STATEFULSET);
    const brokers = sts ? (sts.spec?.replicas ?? 1) : 0;
    for (const [i, t] of portForwardTargets(brokers, ports.kafka).entries()) specs.push({ ...t, name: `kafka-${i}`, protocol: 'kafka' });
    if (!brokers)
      ctx.log.warn(`no statefulset/${STATEFULSET} (or 0 replicas) in namespace ${ns}: not forwarding Kafka (deploy it: ./scripts/deploy-kafka.mts)`);
  }
  if (specs.length === 0) {
    const onlyText = only?.length ? ` (--only ${only.join(',')})` : '';
    throw new StepError(`nothing to forward: neither service/${PG_NAME} nor statefulset/${STATEFULSET} is in namespace ${ns}${onlyText}`, {
      fix: `deploy first (./deploy-all.mts), or pick the namespace with --namespace`,
    });
  }
  return specs;
}

/** The supervisor: keeps every forward up until interrupted (SIGTERM from `stop`, or Ctrl-C). */
export async function runSupervisor(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  const file = await stateFilePath(ctx);
  const existing = readState(file);
  if (existing && existing.supervisorPid !== process.pid && deps.isOurs(existing.supervisorPid, MARKER)) {
    throw new UsageError(`port-forwards are already running (supervisor pid ${existing.supervisorPid}, state ${path.relative(process.cwd(), file) || file})`, {
      fix: './scripts/port-forward.mts status, or stop them first: ./scripts/port-forward.mts stop',
    });
  }
  await ensureClusterReachable(ctx);
  const specs = await resolveForwards(ctx);
  const started = ctx.clock.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const forwards = specs.map((spec) => new PortForward(ctx, spec, deps.spawn));
  const state = (): StateFile => ({
    version: 1,
    supervisorPid: process.pid,
    startedAt: iso(started),
    namespace: ctx.config.namespace,
    ...(ctx.config.context ? { context: ctx.config.context } : {}),
    logFile: logFileOf(file),
    forwards: specs.map((spec, i) => {
      const { state, pid, restarts, lastError, since } = forwards[i]!;
      return { ...spec, state, pid, restarts, lastError, since: iso(since || started) };
    }),
  });
  writeState(file, state());
  ctx.log.info(`supervising ${specs.length} port-forward(s), pid ${process.pid}; state in ${file}`);
  const onChange = () => void (ctx.signal.aborted || writeState(file, state()));
  await Promise.all(forwards.map((f) => f.supervise(ctx.signal, { podCheckMs: deps.podCheckMs, onChange })));
  // Interrupted: every kubectl is stopped. The state file goes, unless another supervisor took it over.
  if (readState(file)?.supervisorPid === process.pid) rmSync(file, { force: true });
  ctx.log.info('port-forwards stopped');
  return { steps: [], budgetMs: null };
}

/** start --dry-run: what start would look up and keep open, from the flags alone (no cluster needed). */
function plannedForwards(ctx: Ctx): RunResult {
  const only = ctx.config.options.get(ONLY_FLAG);
  const want = (name: string) => !only?.length || only.includes(name);
  const file = flagPath(ctx.config, STATE_FILE_FLAG, ctx.root) ?? path.join(STATE_DIR, 'CONTEXT', `${ctx.config.namespace}.json`);
  const first = portsOfSlot(0);
  const pgPort = ctx.config.options.get(PG_PORT_FLAG) ?? `${first.postgres} (the first stack's; another stack's record names its own)`;
  ctx.log.info('dry run: nothing was contacted or started');
  const lines = [
    `# would read the stack's laptop ports (ConfigMap/${STACK_RECORD}), service/${PG_NAME} and statefulset/${STATEFULSET} in namespace ${ctx.config.namespace}, then start a supervisor keeping up:`,
    ...(want('postgres') ? [`#   127.0.0.1:${pgPort} -> svc/${PG_NAME}:${PG_PORT} (if the service exists)`] : []),
    ...(want('kafka')
      ? [`#   127.0.0.1:BASE+i -> pod/${STATEFULSET}-i:BASE+i for each broker i of statefulset/${STATEFULSET} (BASE: ${first.kafka} for the first stack)`]
      : []),
    `# each re-opened on the same local port when it drops or its pod is replaced; state in ${shownPath(file)}`,
  ];
  return { steps: [], budgetMs: null, output: lines.join('\n') };
}

/** Launches the supervisor detached from the terminal and waits until every forward answers. */
export async function startForwards(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  if (ctx.config.dryRun) return plannedForwards(ctx);
  const file = await stateFilePath(ctx);
  const existing = readState(file);
  if (existing && deps.isOurs(existing.supervisorPid, MARKER)) {
    ctx.log.info(`already running (supervisor pid ${existing.supervisorPid}); nothing to start`);
    return showStatus(ctx, deps);
  }
  await ensureClusterReachable(ctx);
  const specs = await resolveForwards(ctx);
  for (const s of specs) {
    if (!(await deps.portInUse(s.localPort))) continue;
    const pg = s.protocol === 'postgres';
    throw new EnvironmentError(`local port ${s.localPort} (for ${s.name}) is already in use${pg ? ' (a PostgreSQL on this machine?)' : ''}`, {
      fix: pg
        ? `pick another with --pg-port 15432, or find what listens there: lsof -iTCP:${s.localPort} -sTCP:LISTEN`
        : `stop what listens there (lsof -iTCP:${s.localPort} -sTCP:LISTEN): broker ${s.name} advertises 127.0.0.1:${s.localPort}, so this port cannot move`,
      docs: 'local-port-in-use',
    });
  }
  const logFile = logFileOf(file);
  mkdirSync(path.dirname(file), { recursive: true });
  rmSync(file, { force: true });
  const pg = specs.find((s) => s.protocol === 'postgres');
  const args = [
    ...[...process.execArgv, SCRIPT_PATH, 'run', '--namespace', ctx.config.namespace],
    ...(ctx.config.context ? ['--context', ctx.config.context] : []),
    ...(pg ? ['--pg-port', String(pg.localPort)] : []),
    ...['--state-file', file, '--only', [...new Set(specs.map((s) => s.protocol))].join(',')],
    ...(ctx.config.verbose ? ['--verbose'] : []),
  ];
  const fd = openSync(logFile, 'w');
  let supervisorPid: number | undefined;
  try {
    const child = deps.spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], cwd: ctx.root, env: { ...process.env, CI: 'true' } });
    child.on('error', () => {});
    child.unref();
    supervisorPid = child.pid;
  } finally {
    closeSync(fd);
  }
  if (!supervisorPid) throw new StepError('could not start the port-forward supervisor', { fix: `see ${logFile}` });
  ctx.log.info(`started the supervisor (pid ${supervisorPid}, log ${path.relative(process.cwd(), logFile) || logFile})`);

  const waitMs = ctx.config.options.get(WAIT_FLAG) ?? 60_000;
  const until = ctx.clock.now() + waitMs;
  for (let look = await inspect(ctx, file, deps); ; look = await inspect(ctx, file, deps)) {
    if (look.checks.every((c) => c.ok)) return report(ctx, look);
    if (!deps.isOurs(supervisorPid, MARKER)) {
      throw new StepError(`the port-forward supervisor exited at once: ${logTail(logFile)}`, { fix: `see ${logFile}`, docs: 'port-forward-drops' });
    }
    if (ctx.clock.now() >= until) {
      const down = look.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      throw new StepError(`not every port-forward came up within ${waitMs / 1000}s: ${down.join('; ')}`, {
        fix: `the supervisor (pid ${supervisorPid}) keeps retrying; check the pods (kubectl get pods -n ${ctx.config.namespace}), then ./scripts/port-forward.mts status, or stop it: ./scripts/port-forward.mts stop`,
        docs: 'port-forward-drops',
      });
    }
    await ctx.clock.sleep(250, ctx.signal);
    if (ctx.signal.aborted)
      throw new StepError('interrupted while waiting for the port-forwards (the supervisor keeps running; stop it with ./scripts/port-forward.mts stop)');
  }
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ') || '(empty log)';
  } catch {
    return '(no log)';
  }
}

/** What status found: the state file, a check and a table row per forward. */
type Look = { st?: StateFile; checks: Check[]; rows: string[][]; started: number };

/** The script's report: one step holding the checks, failed when one is. */
function stepResult(ctx: Ctx, name: string, checks: Check[], started: number): RunResult {
  const ok = checks.every((c) => c.ok);
  return { steps: [{ name, ok, status: ok ? 'done' : 'failed', durationMs: ctx.clock.now() - started, budgetMs: null, checks }], budgetMs: null };
}

/** One check per forward from the state file: the supervisor and kubectl alive, the local port answering. */
async function inspect(ctx: Ctx, file: string, deps: PortForwardDeps): Promise<Look> {
  const started = ctx.clock.now();
  const st = readState(file);
  const ns = ctx.config.namespace;
  if (!st) {
    const start = `./scripts/port-forward.mts start${ns === 'learnflow' ? '' : ` --namespace ${ns}`}`;
    return { checks: [{ name: 'supervisor', ok: false, detail: `not running for namespace ${ns} (start it: ${start})` }], rows: [], started };
  }
  const alive = deps.isOurs(st.supervisorPid, MARKER);
  const checks: Check[] = [
    {
      name: 'supervisor',
      ok: alive,
      detail: alive
        ? `pid ${st.supervisorPid}, since ${st.startedAt}, log ${st.logFile}`
        : `pid ${st.supervisorPid} is gone (stale state file ${file}): run ./scripts/port-forward.mts start`,
    },
  ];
  const rows = [['forward', 'local', 'target', 'kubectl pid', 'state', 'restarts', 'answers']];
  for (const f of st.forwards) {
    const kubectl = f.pid !== undefined && deps.isOurs(f.pid, MARKER);
    const probe = await deps.probe(f.localPort, f.protocol);
    const state = alive ? f.state : 'orphaned';
    const detail = [
      `127.0.0.1:${f.localPort} -> ${f.resource}:${f.remotePort}`,
      kubectl ? `kubectl pid ${f.pid}` : 'no kubectl',
      `${state} since ${f.since}`,
      f.restarts ? `${f.restarts} restart(s)` : '',
      probe.detail,
      f.state !== 'up' && f.lastError ? `last error: ${f.lastError}` : '',
    ];
    checks.push({ name: f.name, ok: alive && f.state === 'up' && kubectl && probe.answers, detail: detail.filter(Boolean).join(', ') });
    const answers = probe.answers ? 'yes' : `no (${probe.detail})`;
    rows.push([f.name, `127.0.0.1:${f.localPort}`, `${f.resource}:${f.remotePort}`, kubectl ? String(f.pid) : '-', state, String(f.restarts), answers]);
  }
  return { st, checks, rows, started };
}

/** status' report: a check per forward (logged too), the table and how to connect. */
function report(ctx: Ctx, look: Look): RunResult {
  const { st, checks, rows } = look;
  if (st) for (const c of checks.slice(1)) (c.ok ? ctx.log.ok : ctx.log.fail)(`${c.name}: ${c.detail}`);
  else ctx.log.warn(`no port-forwards running for namespace ${ctx.config.namespace}`);
  const result = stepResult(ctx, 'port-forwards', checks, look.started);
  return st ? { ...result, output: [columns(rows), '', ...connectionHints(st)].join('\n') } : result;
}

export async function showStatus(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  return report(ctx, await inspect(ctx, await stateFilePath(ctx), deps));
}

function connectionHints(st: StateFile): string[] {
  const pg = st.forwards.find((f) => f.protocol === 'postgres');
  const kafka = st.forwards.filter((f) => f.protocol === 'kafka');
  return [
    ...(pg
      ? [
          'PostgreSQL:',
          `  export PGPASSWORD="$(kubectl get secret postgresql-credentials -n ${st.namespace} -o jsonpath='{.data.password}' | base64 -d)"`,
          `  psql -h 127.0.0.1 -p ${pg.localPort} -U learnflow_user -d learnflow`,
        ]
      : []),
    ...(kafka.length
      ? [
          'Kafka (each broker advertises its own 127.0.0.1 port, so every laptop client works):',
          `  bootstrap servers: ${kafka.map((f) => `127.0.0.1:${f.localPort}`).join(',')}`,
        ]
      : []),
  ];
}

/** Stops the supervisor (its kubectl children go with it) and any kubectl left behind by a killed one. */
export async function stopForwards(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  const file = await stateFilePath(ctx);
  const st = readState(file);
  const started = ctx.clock.now();
  if (!st || ctx.config.dryRun) {
    ctx.log.info(
      st
        ? `dry run: would stop supervisor pid ${st.supervisorPid} and ${st.forwards.length} kubectl port-forward(s)`
        : `no port-forwards running for namespace ${ctx.config.namespace}; nothing to stop`,
    );
    return { steps: [], budgetMs: null };
  }
  const ours = () => deps.isOurs(st.supervisorPid, MARKER);
  const checks: Check[] = [{ name: 'supervisor', ok: true, detail: ours() ? `stopped pid ${st.supervisorPid}` : `pid ${st.supervisorPid} was not running` }];
  if (ours()) {
    deps.kill(st.supervisorPid, 'SIGTERM');
    const until = ctx.clock.now() + 8000;
    while (ours() && ctx.clock.now() < until) await ctx.clock.sleep(100);
    if (ours()) {
      ctx.log.warn(`supervisor pid ${st.supervisorPid} did not stop within 8s; killing it`);
      deps.kill(st.supervisorPid, 'SIGKILL');
    }
  }
  for (const f of st.forwards) {
    if (f.pid === undefined || !deps.isOurs(f.pid, MARKER)) {
      checks.push({ name: f.name, ok: true, detail: `127.0.0.1:${f.localPort} closed` });
      continue;
    }
    try {
      deps.kill(f.pid, 'SIGTERM');
      checks.push({ name: f.name, ok: true, detail: `stopped a kubectl left behind (pid ${f.pid})` });
    } catch (err) {
      checks.push({ name: f.name, ok: false, detail: `could not stop kubectl pid ${f.pid}: ${errorMessage(err)}` });
    }
  }
  rmSync(file, { force: true });
  for (const c of checks) ctx.log.ok(`${c.name}: ${c.detail}`);
  return stepResult(ctx, 'stop', checks, started);
}

const CLOSED = 'connection closed without an answer (is the pod behind the forward running?)';
const REFUSED = 'connection refused: nothing listens there';

/**
 * Whether the local port answers as the service behind it. A TCP connect alone proves only that kubectl listens,
 * so speak a word of the protocol: PostgreSQL's SSLRequest (postgres-client.ts serverOffersSsl: 'S' or 'N' from any
 * server) or Kafka's ApiVersions (answered with our correlation id). A broken tunnel accepts the connection and then
 * closes it.
 */
export function probeLocalPort(port: number, protocol: Protocol): Promise<{ answers: boolean; detail: string }> {
  const timeoutMs = 2000;
  if (protocol === 'postgres')
    return serverOffersSsl('127.0.0.1', port, timeoutMs).then(
      () => ({ answers: true, detail: 'PostgreSQL answered' }),
      (err: NodeJS.ErrnoException) => ({
        answers: false,
        detail:
          { ECONNREFUSED: REFUSED, ECONNRESET: CLOSED, ETIMEDOUT: `no answer within ${timeoutMs / 1000}s` }[err.code ?? ''] ??
          (/answered the SSL request/.test(err.message) ? 'something answered, but not PostgreSQL' : errorMessage(err)),
      }),
    );
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const done = (answers: boolean, detail: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers, detail });
    };
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs / 1000}s`), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, err.code === 'ECONNREFUSED' ? REFUSED : errorMessage(err)));
    socket.once('connect', () => socket.write(KAFKA_API_VERSIONS_REQUEST));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 8) return;
      // Int32 size, then our correlation id.
      const ours = got.readInt32BE(4) === KAFKA_PROBE_CORRELATION_ID;
      done(ours, ours ? 'Kafka answered' : 'something answered, but not Kafka');
    });
    socket.once('close', () => done(false, CLOSED));
  });
}

const KAFKA_PROBE_CORRELATION_ID = 0x4c46;
/** ApiVersions (key 18) v0, which every broker accepts first: Int32 size 25, Int16 key, Int16 version, Int32
 * correlation id, then the client id as Int16 length 15 and its bytes. */
export const KAFKA_API_VERSIONS_REQUEST = Buffer.concat([Buffer.from([0, 0, 0, 25, 0, 18, 0, 0, 0, 0, 0x4c, 0x46, 0, 15]), Buffer.from('learnflow-probe')]);

export const PORT_FORWARD_SUMMARY = [
  "Keeps port-forwards to a stack's PostgreSQL and Kafka open in the background, on the stack's own local ports,",
  're-opened when they drop. Each namespace (and context) has its own: two stacks can be forwarded at once.',
  '  start    forward what is deployed: 127.0.0.1:5432 -> svc/postgresql:5432 (--pg-port to change), and for broker i',
  '           127.0.0.1:29092+i -> pod/kafka-i:29092+i (the address each broker advertises to laptop clients); another',
  "           stack's ports are its own (deploy-all and status.mts print them)",
  '  status   each forward, its kubectl pid, and whether the local port answers (PostgreSQL / Kafka protocol)',
  '  stop     stop the supervisor and its kubectl processes',
  '  run      the supervisor itself, in the foreground (what start launches; Ctrl-C stops it)',
].join('\n');

export function portForwardScript(deps: PortForwardDeps = realDeps): ScriptDef {
  return {
    name: 'port-forward',
    usage: 'port-forward.mts start|status|stop|run [flags]',
    summary: PORT_FORWARD_SUMMARY,
    flags: [PG_PORT_FLAG, ONLY_FLAG, WAIT_FLAG, STATE_FILE_FLAG] satisfies FlagSpec[],
    maxArgs: 1,
    footer: `Exit codes: 0 ok (status: every forward up and answering), 1 a forward is down or failed to start, 2 bad usage, 3 environment not ready (no cluster, local port taken).\nState: ${STATE_DIR}/CONTEXT/NAMESPACE.json (pid and state of each forward), log next to it. Guide: docs/operations.md#port-forwards\nTroubleshooting: docs/troubleshooting.md#port-forward-drops`,
    async run(ctx) {
      const command = ctx.config.args[0];
      if (command === 'start') return startForwards(ctx, deps);
      if (command === 'status') return showStatus(ctx, deps);
      if (command === 'stop') return stopForwards(ctx, deps);
      if (command !== 'run')
        throw new UsageError(command ? `unknown command '${command}': say start, status, stop or run` : 'say what to do: start, status, stop or run', {
          fix: './scripts/port-forward.mts start',
        });
      if (!ctx.config.dryRun) return runSupervisor(ctx, deps);
      ctx.log.info('dry run: would supervise the port-forwards in the foreground');
      return { steps: [], budgetMs: null };
    },
  };
}
