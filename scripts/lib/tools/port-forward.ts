// scripts/port-forward.mts: background port-forwards to PostgreSQL and the Kafka brokers on the stack's laptop
// ports (its record: stack-record.ts), kept up by a small supervisor process detached from the terminal. Each
// (context, namespace) has its own supervisor and state file, so two stacks can be forwarded at once.
//
//   start   resolve what to forward, check the local ports are free, launch `port-forward.mts run` detached,
//           wait until every forward is up, print the status
//   run     the supervisor itself (foreground): one PortForward.supervise() per target; writes its state file
//   status  read the state file, check the supervisor and each kubectl are alive and the local ports answer
//   stop    SIGTERM the supervisor (and any kubectl it left behind), remove the state file

import { PG_NAME, PG_PORT } from '../components/shared/postgres-topology.js';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flagPath, shownPath } from '../core/config.js';
import type { Ctx } from '../run/context.js';
import { EnvironmentError, StepError, UsageError, errorMessage } from '../core/errors.js';
import { flag, type FlagSpec } from '../core/flags.js';
import { REPO_ROOT } from '../kube/manifests.js';
import {
  localPortInUse,
  PortForward,
  probeLocalPort,
  type ForwardEvent,
  type ForwardState,
  type PortForwardTarget,
  type ProbeProtocol,
} from '../run/port-forward.js';
import { contextName, ensureClusterReachable } from '../preflight/checks.js';
import { columns, type Check } from '../core/report.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { portForwardTargets } from '../components/shared/kafka-topology.js';
import { laptopPorts, portsOfSlot, STACK_RECORD } from '../components/shared/stack-record.js';

export const COMMANDS = ['start', 'status', 'stop', 'run'] as const;
export type Command = (typeof COMMANDS)[number];

export const SCRIPT_PATH = path.join(REPO_ROOT, 'scripts', 'port-forward.mts');
/** Where each stack's state file goes: <dir>/<context>/<namespace>.json. */
export const STATE_DIR = '.learnflow/port-forward';
export const KAFKA_STATEFULSET = 'kafka';

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

export const PORT_FORWARD_FLAGS: readonly FlagSpec[] = [PG_PORT_FLAG, ONLY_FLAG, WAIT_FLAG, STATE_FILE_FLAG];

export interface ForwardSpec {
  /** postgresql, kafka-0, kafka-1, ... */
  name: string;
  protocol: ProbeProtocol;
  target: PortForwardTarget & { localPort: number };
}

export interface ForwardStatus {
  name: string;
  protocol: ProbeProtocol;
  resource: string;
  localPort: number;
  remotePort: number;
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

/** One kubectl get per forward this often: a replaced pod is noticed within seconds, before anyone connects. */
export const POD_CHECK_MS = 3000;

export const realDeps: PortForwardDeps = {
  podCheckMs: POD_CHECK_MS,
  spawn,
  isOurs: processLooksLike,
  kill: (pid, signal) => process.kill(pid, signal),
  probe: probeLocalPort,
  portInUse: localPortInUse,
};

/** Alive, and on Linux its command line mentions `marker` (a recycled pid is not ours to kill). */
export function processLooksLike(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const proc = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true; // macOS: no /proc; alive is the best we know
  try {
    return readFileSync(proc, 'utf8').split('\0').join(' ').includes(marker);
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

export function readState(file: string): StateFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    return parsed.version === 1 && Array.isArray(parsed.forwards) ? parsed : undefined;
  } catch {
    return undefined;
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
    const pgPort = ctx.config.options.get(PG_PORT_FLAG) ?? ports.postgres;
    if (svc)
      specs.push({
        name: 'postgresql',
        protocol: 'postgres',
        target: { resource: `svc/${PG_NAME}`, remotePort: PG_PORT, localPort: pgPort, podSelector: selectorOf(svc.spec?.selector) },
      });
    else ctx.log.warn(`no service/${PG_NAME} in namespace ${ns}: not forwarding PostgreSQL (deploy it: ./scripts/deploy-postgres.mts)`);
  }
  if (want('kafka')) {
    const sts = await ctx.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', KAFKA_STATEFULSET);
    const brokers = sts ? (sts.spec?.replicas ?? 1) : 0;
    if (brokers > 0) {
      portForwardTargets(brokers, ports.kafka).forEach((t, i) => specs.push({ name: `kafka-${i}`, protocol: 'kafka', target: t }));
    } else {
      ctx.log.warn(`no statefulset/${KAFKA_STATEFULSET} (or 0 replicas) in namespace ${ns}: not forwarding Kafka (deploy it: ./scripts/deploy-kafka.mts)`);
    }
  }
  if (specs.length === 0) {
    throw new StepError(
      `nothing to forward: neither service/${PG_NAME} nor statefulset/${KAFKA_STATEFULSET} is in namespace ${ns}${only?.length ? ` (--only ${only.join(',')})` : ''}`,
      {
        fix: `deploy first (./deploy-all.mts), or pick the namespace with --namespace`,
      },
    );
  }
  return specs;
}

function selectorOf(labels: Record<string, string> | undefined): string | undefined {
  const pairs = Object.entries(labels ?? {});
  return pairs.length ? pairs.map(([k, v]) => `${k}=${v}`).join(',') : undefined;
}

function initialStatus(spec: ForwardSpec, now: number): ForwardStatus {
  return {
    name: spec.name,
    protocol: spec.protocol,
    resource: spec.target.resource,
    localPort: spec.target.localPort,
    remotePort: spec.target.remotePort,
    state: 'starting',
    restarts: 0,
    since: new Date(now).toISOString(),
  };
}

/** The supervisor: keeps every forward up until interrupted (SIGTERM from `stop`, or Ctrl-C). */
export async function runSupervisor(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  const file = await stateFilePath(ctx);
  const existing = readState(file);
  if (existing && existing.supervisorPid !== process.pid && deps.isOurs(existing.supervisorPid, 'port-forward')) {
    throw new UsageError(`port-forwards are already running (supervisor pid ${existing.supervisorPid}, state ${path.relative(process.cwd(), file) || file})`, {
      fix: './scripts/port-forward.mts status, or stop them first: ./scripts/port-forward.mts stop',
    });
  }
  await ensureClusterReachable(ctx);
  const specs = await resolveForwards(ctx);
  const state: StateFile = {
    version: 1,
    supervisorPid: process.pid,
    startedAt: new Date(ctx.clock.now()).toISOString(),
    namespace: ctx.config.namespace,
    ...(ctx.config.context ? { context: ctx.config.context } : {}),
    logFile: file.replace(/\.json$/, '') + '.log',
    forwards: specs.map((s) => initialStatus(s, ctx.clock.now())),
  };
  writeState(file, state);
  ctx.log.info(`supervising ${specs.length} port-forward(s), pid ${process.pid}; state in ${file}`);
  const supervising = specs.map((spec, i) => {
    const forward = new PortForward(ctx, spec.target, deps.spawn);
    return forward.supervise({
      signal: ctx.signal,
      podCheckMs: deps.podCheckMs,
      onChange: (e: ForwardEvent) => {
        const prev = state.forwards[i]!;
        state.forwards[i] = {
          ...prev,
          state: e.state,
          pid: e.pid,
          restarts: e.restarts,
          lastError: e.lastError,
          since: e.state === prev.state ? prev.since : new Date(e.since).toISOString(),
        };
        if (!ctx.signal.aborted) writeState(file, state);
      },
    });
  });
  await Promise.all(supervising);
  // Interrupted: every kubectl is stopped. The state file goes, unless another supervisor took it over.
  if (readState(file)?.supervisorPid === process.pid) rmSync(file, { force: true });
  ctx.log.info('port-forwards stopped');
  return { steps: [], budgetMs: null };
}

function plannedForwards(ctx: Ctx, file: string): string {
  const only = ctx.config.options.get(ONLY_FLAG);
  const want = (name: string) => !only?.length || only.includes(name);
  const ns = ctx.config.namespace;
  const first = portsOfSlot(0);
  const pgPort = ctx.config.options.get(PG_PORT_FLAG) ?? `${first.postgres} (the first stack's; another stack's record names its own)`;
  ctx.log.info('dry run: nothing was contacted or started');
  return [
    `# would read the stack's laptop ports (ConfigMap/${STACK_RECORD}), service/${PG_NAME} and statefulset/${KAFKA_STATEFULSET} in namespace ${ns}, then start a supervisor keeping up:`,
    ...(want('postgres') ? [`#   127.0.0.1:${pgPort} -> svc/${PG_NAME}:${PG_PORT} (if the service exists)`] : []),
    ...(want('kafka')
      ? [
          `#   127.0.0.1:BASE+i -> pod/${KAFKA_STATEFULSET}-i:BASE+i for each broker i of statefulset/${KAFKA_STATEFULSET} (BASE: ${first.kafka} for the first stack)`,
        ]
      : []),
    `# each re-opened on the same local port when it drops or its pod is replaced; state in ${shownPath(file)}`,
  ].join('\n');
}

/** Launches the supervisor detached from the terminal and waits for its forwards to come up. */
export async function startForwards(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  // A dry-run needs no cluster: it says what start would look up and open, from the flags alone.
  if (ctx.config.dryRun)
    return {
      steps: [],
      budgetMs: null,
      output: plannedForwards(ctx, flagPath(ctx.config, STATE_FILE_FLAG, ctx.root) ?? path.join(STATE_DIR, 'CONTEXT', `${ctx.config.namespace}.json`)),
    };
  const file = await stateFilePath(ctx);
  const existing = readState(file);
  if (existing && deps.isOurs(existing.supervisorPid, 'port-forward')) {
    ctx.log.info(`already running (supervisor pid ${existing.supervisorPid}); nothing to start`);
    return showStatus(ctx, deps);
  }
  await ensureClusterReachable(ctx);
  const specs = await resolveForwards(ctx);
  for (const s of specs) {
    if (await deps.portInUse(s.target.localPort)) {
      const pg = s.protocol === 'postgres';
      throw new EnvironmentError(`local port ${s.target.localPort} (for ${s.name}) is already in use${pg ? ' (a PostgreSQL on this machine?)' : ''}`, {
        fix: pg
          ? `pick another with --pg-port 15432, or find what listens there: lsof -iTCP:${s.target.localPort} -sTCP:LISTEN`
          : `stop what listens there (lsof -iTCP:${s.target.localPort} -sTCP:LISTEN): broker ${s.name} advertises 127.0.0.1:${s.target.localPort}, so this port cannot move`,
        docs: 'local-port-in-use',
      });
    }
  }
  const logFile = file.replace(/\.json$/, '') + '.log';
  mkdirSync(path.dirname(file), { recursive: true });
  rmSync(file, { force: true });
  const args = [
    ...process.execArgv,
    SCRIPT_PATH,
    'run',
    '--namespace',
    ctx.config.namespace,
    ...(ctx.config.context ? ['--context', ctx.config.context] : []),
    ...specs.filter((s) => s.protocol === 'postgres').flatMap((s) => ['--pg-port', String(s.target.localPort)]),
    '--state-file',
    file,
    '--only',
    [...new Set(specs.map((s) => (s.protocol === 'postgres' ? 'postgres' : 'kafka')))].join(','),
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
  for (;;) {
    const st = readState(file);
    if (st && st.forwards.length > 0 && st.forwards.every((f) => f.state === 'up')) break;
    if (!deps.isOurs(supervisorPid, 'port-forward')) {
      throw new StepError(`the port-forward supervisor exited at once: ${logTail(logFile)}`, { fix: `see ${logFile}`, docs: 'port-forward-drops' });
    }
    if (ctx.clock.now() >= until) {
      const down = (st?.forwards ?? []).filter((f) => f.state !== 'up');
      throw new StepError(
        `not every port-forward came up within ${waitMs / 1000}s: ${down.map((f) => `${f.name}: ${f.lastError ?? f.state}`).join('; ') || 'no state written yet'}`,
        {
          fix: `the supervisor (pid ${supervisorPid}) keeps retrying; check the pods (kubectl get pods -n ${ctx.config.namespace}), then ./scripts/port-forward.mts status, or stop it: ./scripts/port-forward.mts stop`,
          docs: 'port-forward-drops',
        },
      );
    }
    await ctx.clock.sleep(250, ctx.signal);
    if (ctx.signal.aborted)
      throw new StepError('interrupted while waiting for the port-forwards (the supervisor keeps running; stop it with ./scripts/port-forward.mts stop)');
  }
  return showStatus(ctx, deps);
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ') || '(empty log)';
  } catch {
    return '(no log)';
  }
}

/** One check per forward: is kubectl alive, does the local port answer with the right protocol. */
export async function showStatus(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  const file = await stateFilePath(ctx);
  const st = readState(file);
  const started = ctx.clock.now();
  const checks: Check[] = [];
  const step = (ok: boolean) => ({
    name: 'port-forwards',
    ok,
    status: ok ? ('done' as const) : ('failed' as const),
    durationMs: ctx.clock.now() - started,
    budgetMs: null,
    checks,
  });
  if (!st) {
    checks.push({
      name: 'supervisor',
      ok: false,
      detail: `not running for namespace ${ctx.config.namespace} (start it: ./scripts/port-forward.mts start${nsFlag(ctx.config.namespace)})`,
    });
    ctx.log.warn(`no port-forwards running for namespace ${ctx.config.namespace}`);
    return { steps: [step(false)], budgetMs: null };
  }
  const supervisorAlive = deps.isOurs(st.supervisorPid, 'port-forward');
  checks.push({
    name: 'supervisor',
    ok: supervisorAlive,
    detail: supervisorAlive
      ? `pid ${st.supervisorPid}, since ${st.startedAt}, log ${st.logFile}`
      : `pid ${st.supervisorPid} is gone (stale state file ${file}): run ./scripts/port-forward.mts start`,
  });
  const rows: string[][] = [['forward', 'local', 'target', 'kubectl pid', 'state', 'restarts', 'answers']];
  for (const f of st.forwards) {
    const kubectlAlive = f.pid !== undefined && deps.isOurs(f.pid, 'port-forward');
    const probe = await deps.probe(f.localPort, f.protocol);
    const ok = supervisorAlive && f.state === 'up' && kubectlAlive && probe.answers;
    const state = supervisorAlive ? f.state : 'orphaned';
    const detail = [
      `127.0.0.1:${f.localPort} -> ${f.resource}:${f.remotePort}`,
      kubectlAlive ? `kubectl pid ${f.pid}` : 'no kubectl',
      `${state} since ${f.since}`,
      f.restarts ? `${f.restarts} restart(s)` : '',
      probe.detail,
      f.state !== 'up' && f.lastError ? `last error: ${f.lastError}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    checks.push({ name: f.name, ok, detail });
    (ok ? ctx.log.ok : ctx.log.fail)(`${f.name}: ${detail}`);
    rows.push([
      f.name,
      `127.0.0.1:${f.localPort}`,
      `${f.resource}:${f.remotePort}`,
      kubectlAlive ? String(f.pid) : '-',
      state,
      String(f.restarts),
      probe.answers ? 'yes' : `no (${probe.detail})`,
    ]);
  }
  const ok = checks.every((c) => c.ok);
  return { steps: [step(ok)], budgetMs: null, output: [columns(rows), '', ...connectionHints(st)].join('\n') };
}

const nsFlag = (ns: string) => (ns === 'learnflow' ? '' : ` --namespace ${ns}`);

function connectionHints(st: StateFile): string[] {
  const pg = st.forwards.find((f) => f.protocol === 'postgres');
  const kafka = st.forwards.filter((f) => f.protocol === 'kafka');
  const ns = st.namespace;
  const out: string[] = [];
  if (pg) {
    out.push(
      'PostgreSQL:',
      `  export PGPASSWORD="$(kubectl get secret postgresql-credentials -n ${ns} -o jsonpath='{.data.password}' | base64 -d)"`,
      `  psql -h 127.0.0.1 -p ${pg.localPort} -U learnflow_user -d learnflow`,
    );
  }
  if (kafka.length)
    out.push(
      'Kafka (each broker advertises its own 127.0.0.1 port, so every laptop client works):',
      `  bootstrap servers: ${kafka.map((f) => `127.0.0.1:${f.localPort}`).join(',')}`,
    );
  return out;
}

/** Stops the supervisor (its kubectl children go with it) and any kubectl left behind by a killed one. */
export async function stopForwards(ctx: Ctx, deps: PortForwardDeps = realDeps): Promise<RunResult> {
  const file = await stateFilePath(ctx);
  const st = readState(file);
  const started = ctx.clock.now();
  const checks: Check[] = [];
  if (!st) {
    ctx.log.info(`no port-forwards running for namespace ${ctx.config.namespace}; nothing to stop`);
    return { steps: [], budgetMs: null };
  }
  if (ctx.config.dryRun) {
    ctx.log.info(`dry run: would stop supervisor pid ${st.supervisorPid} and ${st.forwards.length} kubectl port-forward(s)`);
    return { steps: [], budgetMs: null };
  }
  if (deps.isOurs(st.supervisorPid, 'port-forward')) {
    deps.kill(st.supervisorPid, 'SIGTERM');
    const until = ctx.clock.now() + 8000;
    while (deps.isOurs(st.supervisorPid, 'port-forward') && ctx.clock.now() < until) await ctx.clock.sleep(100);
    if (deps.isOurs(st.supervisorPid, 'port-forward')) {
      ctx.log.warn(`supervisor pid ${st.supervisorPid} did not stop within 8s; killing it`);
      deps.kill(st.supervisorPid, 'SIGKILL');
    }
    checks.push({ name: 'supervisor', ok: true, detail: `stopped pid ${st.supervisorPid}` });
  } else {
    checks.push({ name: 'supervisor', ok: true, detail: `pid ${st.supervisorPid} was not running` });
  }
  for (const f of st.forwards) {
    if (f.pid !== undefined && deps.isOurs(f.pid, 'port-forward')) {
      try {
        deps.kill(f.pid, 'SIGTERM');
        checks.push({ name: f.name, ok: true, detail: `stopped a kubectl left behind (pid ${f.pid})` });
      } catch (err) {
        checks.push({ name: f.name, ok: false, detail: `could not stop kubectl pid ${f.pid}: ${errorMessage(err)}` });
      }
    } else {
      checks.push({ name: f.name, ok: true, detail: `127.0.0.1:${f.localPort} closed` });
    }
  }
  rmSync(file, { force: true });
  for (const c of checks) ctx.log.ok(`${c.name}: ${c.detail}`);
  const ok = checks.every((c) => c.ok);
  return { steps: [{ name: 'stop', ok, status: ok ? 'done' : 'failed', durationMs: ctx.clock.now() - started, budgetMs: null, checks }], budgetMs: null };
}

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
    flags: PORT_FORWARD_FLAGS,
    maxArgs: 1,
    footer: `Exit codes: 0 ok (status: every forward up and answering), 1 a forward is down or failed to start, 2 bad usage, 3 environment not ready (no cluster, local port taken).\nState: ${STATE_DIR}/CONTEXT/NAMESPACE.json (pid and state of each forward), log next to it. Guide: docs/operations.md#port-forwards\nTroubleshooting: docs/troubleshooting.md#port-forward-drops`,
    async run(ctx) {
      const command = ctx.config.args[0];
      switch (command as Command | undefined) {
        case 'start':
          return startForwards(ctx, deps);
        case 'status':
          return showStatus(ctx, deps);
        case 'stop':
          return stopForwards(ctx, deps);
        case 'run':
          if (ctx.config.dryRun) {
            ctx.log.info('dry run: would supervise the port-forwards in the foreground');
            return { steps: [], budgetMs: null };
          }
          return runSupervisor(ctx, deps);
        default:
          throw new UsageError(command ? `unknown command '${command}': say start, status, stop or run` : 'say what to do: start, status, stop or run', {
            fix: './scripts/port-forward.mts start',
          });
      }
    },
  };
}
