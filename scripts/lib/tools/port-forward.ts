// scripts/port-forward.mts: background port-forwards to the components that declare them (Component.forwards:
// PostgreSQL, the Kafka brokers) on the stack's laptop ports (its record: stack-record.ts), kept up by a supervisor
// process detached from the terminal. Each (context, namespace) has its own supervisor and state file, so two stacks
// can be forwarded at once. The state file, which the supervisor rewrites on every change, is what status and stop read.
//
//   start   resolve what to forward, check the local ports are free, launch `port-forward.mts run` detached,
//           wait until status says every forward answers, print it
//   run     the supervisor itself (foreground): one PortForward.supervise() per forward
//   status  per forward: the supervisor and its kubectl alive, the local port answering with the right protocol
//   stop    SIGTERM the supervisor (and any kubectl it left behind), remove the state file

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMPONENTS } from '../components/index.js';
import { laptopPortOf, laptopPorts, STACK_RECORD } from '../components/shared/stack-record.js';
import type { Component, ComponentName, Forward, Forwards } from '../components/types.js';
import { flagPath, shownPath } from '../core/config.js';
import { EnvironmentError, StepError, UsageError, errorMessage } from '../core/errors.js';
import { flag, type FlagSpec } from '../core/flags.js';
import { columns, type Check } from '../core/report.js';
import { REPO_ROOT } from '../core/repo.js';
import { contextName, ensureClusterReachable } from '../preflight/checks.js';
import type { Ctx } from '../run/context.js';
import { localPortInUse, PortForward, type ForwardState } from '../run/port-forward.js';
import type { RunResult, ScriptDef } from '../run/script.js';

export const SCRIPT_PATH = path.join(REPO_ROOT, 'scripts', 'port-forward.mts');
/** Where each stack's state file goes: <dir>/<context>/<namespace>.json. */
export const STATE_DIR = '.learnflow/port-forward';

type Registry = Readonly<Record<ComponentName, Component>>;
type Forwarding = Component & { forwards: Forwards };

/** The registered components that declare forwards, in the order of their first stack's laptop port (PostgreSQL, Kafka). */
function forwarding(all: Registry = COMPONENTS): Forwarding[] {
  return Object.values(all)
    .filter((c): c is Forwarding => !!c.forwards)
    .sort((a, b) => a.forwards.slot.port(0) - b.forwards.slot.port(0));
}

/** "A", "A and B", "A, B and C". */
const andList = (items: readonly string[]) => (items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items.at(-1)}` : (items[0] ?? ''));

// Its choices and help are the forwarding components' (portForwardScript).
const ONLY_FLAG = flag({ name: 'only', kind: 'list', valueName: 'NAMES', description: 'forward only these' });
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

/** One forward: postgresql, kafka-0, kafka-1, ...; `protocol` names the component that answers there. */
export interface ForwardSpec extends Forward {
  protocol: ComponentName;
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
  /** Instead of the components' own probes (Component.forwards.probe). */
  probe?(port: number, protocol: ComponentName): Promise<{ answers: boolean; detail: string }>;
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

/** The components --only picks (all by default). */
function wanted(ctx: Ctx, all: Registry): Forwarding[] {
  const only = ctx.config.options.get(ONLY_FLAG);
  return forwarding(all).filter((c) => !only?.length || only.includes(c.name));
}

/** A component's local port as its own flag gives it (--pg-port), if given. */
const portGiven = (ctx: Ctx, c: Forwarding) => (c.forwards.portFlag ? ctx.config.options.get(c.forwards.portFlag) : undefined);

/** The forwards for what is deployed, on the stack's laptop ports: svc/postgresql, and pod/kafka-i:base+i for each broker. */
export async function resolveForwards(ctx: Ctx, all: Registry = COMPONENTS): Promise<ForwardSpec[]> {
  const ports = await laptopPorts(ctx);
  const specs: ForwardSpec[] = [];
  for (const c of wanted(ctx, all)) {
    const port = portGiven(ctx, c) ?? laptopPortOf(ports, c.name, c.forwards.slot);
    for (const f of await c.forwards.resolve(ctx, port)) specs.push({ ...f, protocol: c.name });
  }
  if (specs.length === 0) {
    const only = ctx.config.options.get(ONLY_FLAG);
    const onlyText = only?.length ? ` (--only ${only.join(',')})` : '';
    const lookups = forwarding(all).map((c) => c.forwards.lookup);
    const absent = lookups.length === 2 ? `neither ${lookups[0]} nor ${lookups[1]} is` : `none of ${andList(lookups)} is`;
    throw new StepError(`nothing to forward: ${absent} in namespace ${ctx.config.namespace}${onlyText}`, {
      fix: `deploy first (./deploy-all.mts), or pick the namespace with --namespace`,
    });
  }
  return specs;
}

/** The supervisor: keeps every forward up until interrupted (SIGTERM from `stop`, or Ctrl-C). */
export async function runSupervisor(ctx: Ctx, deps: PortForwardDeps = realDeps, all: Registry = COMPONENTS): Promise<RunResult> {
  const file = await stateFilePath(ctx);
  const existing = readState(file);
  if (existing && existing.supervisorPid !== process.pid && deps.isOurs(existing.supervisorPid, MARKER)) {
    throw new UsageError(`port-forwards are already running (supervisor pid ${existing.supervisorPid}, state ${path.relative(process.cwd(), file) || file})`, {
      fix: './scripts/port-forward.mts status, or stop them first: ./scripts/port-forward.mts stop',
    });
  }
  await ensureClusterReachable(ctx);
  const specs = await resolveForwards(ctx, all);
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
function plannedForwards(ctx: Ctx, all: Registry): RunResult {
  const file = flagPath(ctx.config, STATE_FILE_FLAG, ctx.root) ?? path.join(STATE_DIR, 'CONTEXT', `${ctx.config.namespace}.json`);
  const lookups = andList(forwarding(all).map((c) => c.forwards.lookup));
  ctx.log.info('dry run: nothing was contacted or started');
  const lines = [
    `# would read the stack's laptop ports (ConfigMap/${STACK_RECORD}), ${lookups} in namespace ${ctx.config.namespace}, then start a supervisor keeping up:`,
    ...wanted(ctx, all).flatMap((c) => c.forwards.plan(portGiven(ctx, c)).map((line) => `#   ${line}`)),
    `# each re-opened on the same local port when it drops or its pod is replaced; state in ${shownPath(file)}`,
  ];
  return { steps: [], budgetMs: null, output: lines.join('\n') };
}

/** Launches the supervisor detached from the terminal and waits until every forward answers. */
export async function startForwards(ctx: Ctx, deps: PortForwardDeps = realDeps, all: Registry = COMPONENTS): Promise<RunResult> {
  if (ctx.config.dryRun) return plannedForwards(ctx, all);
  const file = await stateFilePath(ctx);
  const existing = readState(file);
  if (existing && deps.isOurs(existing.supervisorPid, MARKER)) {
    ctx.log.info(`already running (supervisor pid ${existing.supervisorPid}); nothing to start`);
    return showStatus(ctx, deps, all);
  }
  await ensureClusterReachable(ctx);
  const specs = await resolveForwards(ctx, all);
  const components = forwarding(all).filter((c) => specs.some((s) => s.protocol === c.name));
  for (const s of specs) {
    if (!(await deps.portInUse(s.localPort))) continue;
    const { guess = '', fix } = components.find((c) => c.name === s.protocol)!.forwards.portTaken(s);
    throw new EnvironmentError(`local port ${s.localPort} (for ${s.name}) is already in use${guess}`, { fix, docs: 'local-port-in-use' });
  }
  const logFile = logFileOf(file);
  mkdirSync(path.dirname(file), { recursive: true });
  rmSync(file, { force: true });
  // The supervisor forwards the same: the ports chosen here (a component's own port flag) and the same components.
  const portArgs = components.flatMap(({ name, forwards: { portFlag } }) =>
    portFlag ? [`--${portFlag.name}`, String(specs.find((s) => s.protocol === name)!.localPort)] : [],
  );
  const args = [
    ...[...process.execArgv, SCRIPT_PATH, 'run', '--namespace', ctx.config.namespace],
    ...(ctx.config.context ? ['--context', ctx.config.context] : []),
    ...portArgs,
    ...['--state-file', file, '--only', components.map((c) => c.name).join(',')],
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
  for (let look = await inspect(ctx, file, deps, all); ; look = await inspect(ctx, file, deps, all)) {
    if (look.checks.every((c) => c.ok)) return report(ctx, look, all);
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
async function inspect(ctx: Ctx, file: string, deps: PortForwardDeps, all: Registry): Promise<Look> {
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
    const probe = await (deps.probe ? deps.probe(f.localPort, f.protocol) : probeLocalPort(f.localPort, f.protocol, all));
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
function report(ctx: Ctx, look: Look, all: Registry): RunResult {
  const { st, checks, rows } = look;
  if (st) for (const c of checks.slice(1)) (c.ok ? ctx.log.ok : ctx.log.fail)(`${c.name}: ${c.detail}`);
  else ctx.log.warn(`no port-forwards running for namespace ${ctx.config.namespace}`);
  const result = stepResult(ctx, 'port-forwards', checks, look.started);
  return st ? { ...result, output: [columns(rows), '', ...connectionHints(st, all)].join('\n') } : result;
}

export async function showStatus(ctx: Ctx, deps: PortForwardDeps = realDeps, all: Registry = COMPONENTS): Promise<RunResult> {
  return report(ctx, await inspect(ctx, await stateFilePath(ctx), deps, all), all);
}

/** How to connect through each component's forwards (PGPASSWORD and psql, Kafka's bootstrap list). */
function connectionHints(st: StateFile, all: Registry): string[] {
  return forwarding(all).flatMap((c) => {
    const ports = st.forwards.filter((f) => f.protocol === c.name).map((f) => f.localPort);
    return ports.length ? c.forwards.hints(st.namespace, ports) : [];
  });
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

/** Whether the local port answers as the component behind it (Component.forwards.probe speaks a word of its protocol). */
export function probeLocalPort(port: number, protocol: ComponentName, all: Registry = COMPONENTS): Promise<{ answers: boolean; detail: string }> {
  const forwards = all[protocol]?.forwards;
  return forwards ? forwards.probe(port) : Promise.resolve({ answers: false, detail: `no probe for ${protocol}` });
}

/** `text` in lines of at most `width` columns, the first after `first`, the others indented as deep. */
function hanging(first: string, text: string, width = 120): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    if (line.length > first.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = ' '.repeat(first.length) + word;
    } else line += (line.length > first.length ? ' ' : '') + word;
  }
  return [...lines, line];
}

/** --help: start's and status' words name the components that forward. */
function summary(components: readonly Forwarding[]): string {
  const start = `forward what is deployed: ${components.map((c) => c.forwards.help).join(', and ')}; another stack's ports are its own (deploy-all and status.mts print them)`;
  return [
    `Keeps port-forwards to a stack's ${andList(components.map((c) => c.title))} open in the background, on the stack's own local ports,`,
    're-opened when they drop. Each namespace (and context) has its own: two stacks can be forwarded at once.',
    ...hanging('  start    ', start),
    `  status   each forward, its kubectl pid, and whether the local port answers (${components.map((c) => c.title).join(' / ')} protocol)`,
    '  stop     stop the supervisor and its kubectl processes',
    '  run      the supervisor itself, in the foreground (what start launches; Ctrl-C stops it)',
  ].join('\n');
}

/** The script over the registry's components that declare forwards (`all`: a test adds its own). */
export function portForwardScript(deps: PortForwardDeps = realDeps, all: Registry = COMPONENTS): ScriptDef {
  const components = forwarding(all);
  const only: FlagSpec = {
    ...ONLY_FLAG,
    choices: components.map((c) => c.name),
    description: `forward only these (default: whatever of ${andList(components.map((c) => c.title))} is deployed)`,
  };
  return {
    name: 'port-forward',
    usage: 'port-forward.mts start|status|stop|run [flags]',
    summary: summary(components),
    flags: [...components.flatMap((c) => c.forwards.portFlag ?? []), only, WAIT_FLAG, STATE_FILE_FLAG],
    maxArgs: 1,
    footer: `Exit codes: 0 ok (status: every forward up and answering), 1 a forward is down or failed to start, 2 bad usage, 3 environment not ready (no cluster, local port taken).\nState: ${STATE_DIR}/CONTEXT/NAMESPACE.json (pid and state of each forward), log next to it. Guide: docs/operations.md#port-forwards\nTroubleshooting: docs/troubleshooting.md#port-forward-drops`,
    async run(ctx) {
      const command = ctx.config.args[0];
      if (command === 'start') return startForwards(ctx, deps, all);
      if (command === 'status') return showStatus(ctx, deps, all);
      if (command === 'stop') return stopForwards(ctx, deps);
      if (command !== 'run')
        throw new UsageError(command ? `unknown command '${command}': say start, status, stop or run` : 'say what to do: start, status, stop or run', {
          fix: './scripts/port-forward.mts start',
        });
      if (!ctx.config.dryRun) return runSupervisor(ctx, deps, all);
      ctx.log.info('dry run: would supervise the port-forwards in the foreground');
      return { steps: [], budgetMs: null };
    },
  };
}
