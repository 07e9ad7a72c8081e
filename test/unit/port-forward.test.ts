// The port-forward lifecycle with a fake `kubectl port-forward` (no cluster): drops re-opened on the same local port
// with a backoff, a broken tunnel detected from kubectl's stderr, and the port-forward.mts commands (state file,
// status, stop) with fake process handling.

import type { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig, type KitConfig } from '../../scripts/lib/core/config.js';
import { createCtx, type Ctx } from '../../scripts/lib/run/context.js';
import {
  portForwardScript,
  readState,
  resolveForwards,
  runSupervisor,
  showStatus,
  stateFilePath,
  startForwards,
  stopForwards,
  writeState,
  probeLocalPort,
  type PortForwardDeps,
  type StateFile,
} from '../../scripts/lib/tools/port-forward.js';
import { portsOfSlot, renderStackRecord, type LaptopPorts } from '../../scripts/lib/components/shared/stack-record.js';
import { EnvironmentError, StepError, UsageError } from '../../scripts/lib/core/errors.js';
import { memoryLogger, SecretRegistry } from '../../scripts/lib/core/log.js';
import { main } from '../../scripts/lib/cli/run.js';
import { PortForward } from '../../scripts/lib/run/port-forward.js';
import { KAFKA_API_VERSIONS_REQUEST } from '../../scripts/lib/components/kafka/forwards.js';
import { COMPONENTS } from '../../scripts/lib/components/index.js';
import { toy } from '../fixtures/components/toy.js';
import { fakeClock, fakeExec, on } from '../support/fakes.js';
import { until as untilHolds } from '../support/poll.js';

// ---------------------------------------------------------------------------------------------
// A fake kubectl process: the test decides when it is ready, when it drops and what it prints.

let nextPid = 40_000;

class FakeChild extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly pid = nextPid++;
  readonly killedWith: string[] = [];
  constructor(readonly args: readonly string[]) {
    super();
  }
  ready(): void {
    this.stdout.write(`Forwarding from 127.0.0.1:${this.args.find((a) => a.includes(':'))!.split(':')[0]} -> x\n`);
  }
  exit(code: number, stderr = ''): void {
    if (stderr) this.stderr.write(stderr);
    setImmediate(() => {
      this.exitCode = code;
      this.emit('exit', code, null);
    });
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.killedWith.push(signal);
    if (this.exitCode === null && this.signalCode === null) {
      setImmediate(() => {
        this.signalCode = signal;
        this.emit('exit', null, signal);
      });
    }
    return true;
  }
}

/** Each spawn gets the next behaviour: 'ready', or an exit before ready with a message. */
function fakeSpawn(behaviours: (((c: FakeChild) => void) | 'ready')[]) {
  const children: FakeChild[] = [];
  const fn = ((cmd: string, args: readonly string[]) => {
    expect(cmd).toBe('kubectl');
    const child = new FakeChild(args);
    children.push(child);
    const b = behaviours.shift() ?? 'ready';
    setImmediate(() => (b === 'ready' ? child.ready() : b(child)));
    return child;
  }) as unknown as typeof spawn;
  return Object.assign(fn, { children });
}

function config(flags: Record<string, unknown> = {}, namespace = 'learnflow'): KitConfig {
  return buildConfig({ values: { namespace, verbose: true, ...flags } as never, given: new Set(), positionals: [] });
}

function makeCtx(opts: { flags?: Record<string, unknown>; exec?: ReturnType<typeof fakeExec>; signal?: AbortSignal; root?: string } = {}) {
  const log = memoryLogger();
  const clock = fakeClock();
  const ctx = createCtx({
    config: config(opts.flags),
    log,
    exec: opts.exec ?? fakeExec(),
    clock,
    secrets: new SecretRegistry(),
    signal: opts.signal ?? new AbortController().signal,
    root: opts.root,
  });
  return { ctx, log, clock };
}

/** A clock whose sleeps yield to the event loop (the fake one resolves at once, and a polling loop would spin). */
function yieldingClock(): Ctx['clock'] {
  return {
    now: () => Date.now(),
    sleep: (_ms, signal) =>
      new Promise((r) => {
        const t = setTimeout(r, 5);
        signal?.addEventListener('abort', () => {
          clearTimeout(t);
          r();
        });
      }),
  };
}

/** What supervise() reported at each change. */
interface ForwardEvent {
  state: PortForward['state'];
  pid?: number;
  restarts: number;
  lastError?: string;
}

/** Supervises `pf` until `signal` aborts, recording each change. */
function supervise(pf: PortForward, signal: AbortSignal, podCheckMs?: number) {
  const events: ForwardEvent[] = [];
  const onChange = () => void events.push({ state: pf.state, pid: pf.pid, restarts: pf.restarts, lastError: pf.lastError });
  return { events, done: pf.supervise(signal, { podCheckMs, onChange }) };
}

const until = (cond: () => boolean, what: string, timeoutMs = 2000) => untilHolds(cond, what, { timeoutMs, intervalMs: 5 });

describe('PortForward.supervise', () => {
  it('re-opens a dropped forward on the same local port, backing off while the pod is away', async () => {
    const spawnFn = fakeSpawn(['ready', (c) => c.exit(1, 'error: unable to forward port because pod is not running. Current status=Pending\n'), 'ready']);
    const abort = new AbortController();
    const { ctx, clock } = makeCtx({ signal: abort.signal });
    const pf = new PortForward(ctx, { resource: 'svc/postgresql', remotePort: 5432, localPort: 15432 }, spawnFn);
    const { events, done } = supervise(pf, abort.signal);

    await until(() => events.some((e) => e.state === 'up'), 'first up');
    expect(pf.pid).toBe(spawnFn.children[0]!.pid);
    // The pod restarts: kubectl says so and exits.
    spawnFn.children[0]!.exit(1, 'E1122 lost connection to pod\n');
    await until(() => events.filter((e) => e.state === 'up').length === 2, 'second up');

    expect(spawnFn.children).toHaveLength(3);
    for (const c of spawnFn.children) expect(c.args).toEqual(['port-forward', '-n', 'learnflow', 'svc/postgresql', '15432:5432', '--address', '127.0.0.1']);
    expect(events.map((e) => e.state)).toEqual(['starting', 'up', 'retrying', 'starting', 'retrying', 'starting', 'up']);
    expect(events[2]!.lastError).toMatch(/lost connection to pod/);
    expect(events[4]!.lastError).toMatch(/pod is not running/);
    expect(events.at(-1)).toMatchObject({ restarts: 2, pid: spawnFn.children[2]!.pid });
    // Backoff doubles on consecutive failures: 1 s, then 2 s.
    expect(clock.slept).toEqual([1000, 2000]);

    abort.abort();
    await done;
    expect(events.at(-1)!.state).toBe('stopped');
    expect(spawnFn.children[2]!.killedWith).toContain('SIGTERM');
    expect(pf.alive).toBe(false);
  });

  it('treats "an error occurred forwarding" as a broken tunnel: kills that kubectl and opens a new one', async () => {
    const spawnFn = fakeSpawn(['ready', 'ready']);
    const abort = new AbortController();
    const { ctx } = makeCtx({ signal: abort.signal });
    const { events, done } = supervise(new PortForward(ctx, { resource: 'pod/kafka-0', remotePort: 29092, localPort: 29092 }, spawnFn), abort.signal);
    await until(() => events.some((e) => e.state === 'up'), 'up');
    // Per-connection noise does not count.
    spawnFn.children[0]!.stderr.write('E1122 error copying from local connection to remote stream: read: connection reset by peer\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(spawnFn.children).toHaveLength(1);
    spawnFn.children[0]!.stderr.write(
      'E1122 portforward.go:413] an error occurred forwarding 29092 -> 29092: error forwarding port 29092 to pod 1234, uid : failed to execute portforward in network namespace: connection refused\n',
    );
    await until(() => events.filter((e) => e.state === 'up').length === 2, 'second up');
    expect(spawnFn.children[0]!.killedWith).toContain('SIGTERM');
    expect(events.find((e) => e.state === 'retrying')!.lastError).toMatch(/an error occurred forwarding/);
    abort.abort();
    await done;
  });

  it('resets the backoff after a forward stayed up for a while', async () => {
    const spawnFn = fakeSpawn(['ready', 'ready', 'ready']);
    const abort = new AbortController();
    const { ctx, clock } = makeCtx({ signal: abort.signal });
    const { events, done } = supervise(new PortForward(ctx, { resource: 'svc/postgresql', remotePort: 5432, localPort: 15432 }, spawnFn), abort.signal);
    await until(() => events.filter((e) => e.state === 'up').length === 1, 'up 1');
    spawnFn.children[0]!.exit(1, 'error: timed out waiting for the condition\n');
    await until(() => events.filter((e) => e.state === 'up').length === 2, 'up 2');
    expect(events.find((e) => e.state === 'retrying')!.lastError).toBe('kubectl exited (code 1): error: timed out waiting for the condition');
    clock.advance(61_000);
    spawnFn.children[1]!.exit(1);
    await until(() => events.filter((e) => e.state === 'up').length === 3, 'up 3');
    expect(clock.slept).toEqual([1000, 1000]);
    abort.abort();
    await done;
  });

  it('with podCheckMs, re-opens a forward whose pod was replaced before anyone connects through it (kubectl alone keeps listening)', async () => {
    const spawnFn = fakeSpawn(['ready', 'ready']);
    const abort = new AbortController();
    // The pod's uid, as the API server reports it: replaced once the first forward is up.
    let pod = 'kafka-0=11111111-aaaa-bbbb-cccc-000000000001';
    const exec = fakeExec(on(['get', 'pod', 'kafka-0', '-n', 'learnflow', '--ignore-not-found'], () => ({ stdout: pod })));
    const { ctx } = makeCtx({ exec, signal: abort.signal });
    ctx.clock = yieldingClock();
    const pf = new PortForward(ctx, { resource: 'pod/kafka-0', remotePort: 29092, localPort: 29092 }, spawnFn);
    const { events, done } = supervise(pf, abort.signal, 1000);
    await until(() => events.some((e) => e.state === 'up'), 'up');
    await until(() => exec.calls.length >= 3, 'a few checks');
    // Unchanged pod: the forward stays as it is.
    expect(spawnFn.children).toHaveLength(1);
    pod = 'kafka-0=22222222-aaaa-bbbb-cccc-000000000002';
    await until(() => events.filter((e) => e.state === 'up').length === 2, 'second up');
    expect(spawnFn.children[0]!.killedWith).toContain('SIGTERM');
    expect(events.find((e) => e.state === 'retrying')!.lastError).toBe('the pod behind it changed (kafka-0 (uid 11111111) -> kafka-0 (uid 22222222))');
    abort.abort();
    await done;
  });

  it('with podCheckMs on a Service, watches the pods its selector picks: a terminating one re-opens the forward; an unreachable API leaves it alone', async () => {
    const spawnFn = fakeSpawn(['ready', 'ready']);
    const abort = new AbortController();
    let reply: { stdout?: string; exitCode?: number } = { stdout: 'postgresql-0=11111111-aaaa-bbbb-cccc-000000000001 ' };
    const exec = fakeExec(on(['get', 'pods', '-n', 'learnflow', '-l', 'app.kubernetes.io/name=postgresql'], () => reply));
    const { ctx } = makeCtx({ exec, signal: abort.signal });
    ctx.clock = yieldingClock();
    const target = { resource: 'svc/postgresql', remotePort: 5432, localPort: 15432, podSelector: 'app.kubernetes.io/name=postgresql' };
    const { events, done } = supervise(new PortForward(ctx, target, spawnFn), abort.signal, 1000);
    await until(() => events.some((e) => e.state === 'up'), 'up');
    reply = { exitCode: 1 };
    const calls = exec.calls.length;
    await until(() => exec.calls.length >= calls + 3, 'checks while the API is away');
    expect(spawnFn.children).toHaveLength(1);
    reply = { stdout: 'postgresql-0=11111111-aaaa-bbbb-cccc-0000000000012026-12-02T06:00:00Z ' };
    await until(() => events.filter((e) => e.state === 'up').length === 2, 'second up');
    expect(events.find((e) => e.state === 'retrying')!.lastError).toBe(
      'the pod behind it changed (postgresql-0 (uid 11111111) -> postgresql-0 (uid 11111111, terminating))',
    );
    abort.abort();
    await done;
  });

  it('keeps start()/ensure() working for the scripts that open one forward for a run', async () => {
    const spawnFn = fakeSpawn(['ready', 'ready']);
    const { ctx } = makeCtx();
    const pf = new PortForward(ctx, { resource: 'svc/postgresql', remotePort: 5432 }, spawnFn);
    const port = await pf.start();
    expect(port).toBeGreaterThan(0);
    spawnFn.children[0]!.exit(1);
    await until(() => !pf.alive, 'drop');
    expect(await pf.ensure()).toBe(port);
    expect(spawnFn.children).toHaveLength(2);
    await ctx.cleanup.run();
    expect(pf.alive).toBe(false);
  });

  it('callers that find the forward dropped at once share one re-open (one kubectl, not one each)', async () => {
    const spawnFn = fakeSpawn(['ready', 'ready', 'ready']);
    const { ctx } = makeCtx();
    const pf = new PortForward(ctx, { resource: 'svc/postgresql', remotePort: 5432 }, spawnFn);
    const port = await pf.start();
    spawnFn.children[0]!.exit(1);
    await until(() => !pf.alive, 'drop');
    expect(await Promise.all([pf.ensure(), pf.ensure(), pf.ensure()])).toEqual([port, port, port]);
    expect(spawnFn.children).toHaveLength(2);
    expect(pf.restarts).toBe(1);
    await ctx.cleanup.run();
  });
});

describe('probeLocalPort', () => {
  const servers: net.Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));
  async function serve(onData: (socket: net.Socket, data: Buffer) => void): Promise<number> {
    const srv = net.createServer((s) => s.on('data', (d) => onData(s, d)));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return (srv.address() as net.AddressInfo).port;
  }

  it('knows PostgreSQL by its answer to an SSLRequest', async () => {
    const port = await serve((s) => s.write('N'));
    expect(await probeLocalPort(port, 'postgres')).toEqual({ answers: true, detail: 'PostgreSQL answered' });
  });

  it('knows Kafka by the correlation id of its ApiVersions answer', async () => {
    const port = await serve((s, d) => {
      const correlation = d.readInt32BE(8);
      const body = Buffer.alloc(10);
      body.writeInt32BE(6, 0);
      body.writeInt32BE(correlation, 4);
      s.write(body);
    });
    expect(await probeLocalPort(port, 'kafka')).toEqual({ answers: true, detail: 'Kafka answered' });
    expect(KAFKA_API_VERSIONS_REQUEST.readInt16BE(4)).toBe(18);
    expect(KAFKA_API_VERSIONS_REQUEST.readInt32BE(0)).toBe(KAFKA_API_VERSIONS_REQUEST.length - 4);
  });

  it('tells a broken tunnel (accepts, then closes) and a closed port from a working one', async () => {
    const port = await serve((s) => s.destroy());
    expect((await probeLocalPort(port, 'postgres')).answers).toBe(false);
    const srv = servers.pop()!;
    await new Promise<void>((r) => srv.close(() => r()));
    expect(await probeLocalPort(port, 'postgres')).toEqual({ answers: false, detail: 'connection refused: nothing listens there' });
  });
});

// ---------------------------------------------------------------------------------------------
// port-forward.mts commands.

/** `record`: the stack's laptop ports as its record holds them (none: a stack deployed before records, alone on the cluster). */
const kubectlFor = (opts: { postgres?: boolean; kafkaReplicas?: number; record?: LaptopPorts }) =>
  fakeExec(
    on(['version'], { stdout: JSON.stringify({ serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } }) }),
    on(['config', 'current-context'], { stdout: 'kind-learnflow\n' }),
    on(['get', 'configmap', 'learnflow-stack'], { stdout: opts.record ? JSON.stringify(renderStackRecord('learnflow', opts.record)) : '' }),
    on(['get', 'configmap', '--all-namespaces'], { stdout: JSON.stringify({ items: [] }) }),
    on(['get', 'statefulset', '--all-namespaces'], { stdout: JSON.stringify({ items: [] }) }),
    on(['get', 'service', 'postgresql'], { stdout: opts.postgres ? JSON.stringify({ kind: 'Service', metadata: { name: 'postgresql' } }) : '' }),
    on(['get', 'statefulset', 'kafka'], { stdout: opts.kafkaReplicas ? JSON.stringify({ kind: 'StatefulSet', spec: { replicas: opts.kafkaReplicas } }) : '' }),
  );

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'learnflow-pf-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function deps(over: Partial<PortForwardDeps> = {}): PortForwardDeps & { killed: [number, string][] } {
  const killed: [number, string][] = [];
  return {
    spawn: fakeSpawn([]),
    isOurs: () => false,
    kill: (pid, signal) => void killed.push([pid, signal]),
    probe: async () => ({ answers: true, detail: 'PostgreSQL answered' }),
    portInUse: async () => false,
    ...over,
    killed,
  };
}

describe('port-forward.mts', () => {
  it('forwards PostgreSQL to --pg-port and broker i to 127.0.0.1:29092+i, the address it advertises', async () => {
    const { ctx } = makeCtx({ exec: kubectlFor({ postgres: true, kafkaReplicas: 3 }), flags: { 'pg-port': 15432 } });
    const specs = await resolveForwards(ctx);
    expect(specs.map((s) => [s.name, s.resource, `${s.localPort}:${s.remotePort}`, s.protocol])).toEqual([
      ['postgresql', 'svc/postgresql', '15432:5432', 'postgres'],
      ['kafka-0', 'pod/kafka-0', '29092:29092', 'kafka'],
      ['kafka-1', 'pod/kafka-1', '29093:29093', 'kafka'],
      ['kafka-2', 'pod/kafka-2', '29094:29094', 'kafka'],
    ]);
  });

  it("forwards a second stack on its own ports, from its record: another stack's forwards do not stand in its way", async () => {
    const { ctx } = makeCtx({ exec: kubectlFor({ postgres: true, kafkaReplicas: 2, record: portsOfSlot(1) }) });
    const specs = await resolveForwards(ctx);
    expect(specs.map((s) => `${s.localPort}:${s.remotePort}`)).toEqual(['15432:5432', '29102:29102', '29103:29103']);
    // A component that forwards but that the record does not hold takes its port of the same slot.
    const toyCtx = makeCtx({ exec: kubectlFor({ record: portsOfSlot(1) }), flags: { only: ['toy'] } });
    expect((await resolveForwards(toyCtx.ctx, { ...COMPONENTS, toy })).map((s) => [s.name, s.localPort, s.protocol])).toEqual([['toy', 18081, 'toy']]);
  });

  it('keeps its state per context and namespace, so one stack never reads or stops another one', async () => {
    const a = makeCtx({ exec: kubectlFor({}), root: dir });
    expect(await stateFilePath(a.ctx)).toBe(path.join(dir, '.learnflow/port-forward/kind-learnflow/learnflow.json'));
    const b = createCtx({ ...a.ctx, config: { ...a.ctx.config, namespace: 'team-b', context: 'k3d-x:y' }, kube: undefined });
    expect(await stateFilePath(b)).toBe(path.join(dir, '.learnflow/port-forward/k3d-x_y/team-b.json'));
  });

  it('forwards what is deployed, honours --only, and says so when there is nothing', async () => {
    const pgOnly = makeCtx({ exec: kubectlFor({ postgres: true }) });
    expect((await resolveForwards(pgOnly.ctx)).map((s) => s.name)).toEqual(['postgresql']);
    expect(pgOnly.log.lines.join('\n')).toMatch(/not forwarding Kafka/);
    const only = makeCtx({ exec: kubectlFor({ postgres: true, kafkaReplicas: 1 }), flags: { only: ['kafka'] } });
    expect((await resolveForwards(only.ctx)).map((s) => s.name)).toEqual(['kafka-0']);
    const none = makeCtx({ exec: kubectlFor({}) });
    await expect(resolveForwards(none.ctx)).rejects.toThrow(StepError);
  });

  it('start refuses a local port that is taken, with the flag that moves it (exit 3)', async () => {
    const { ctx } = makeCtx({ exec: kubectlFor({ postgres: true }), root: dir });
    const err = await startForwards(ctx, deps({ portInUse: async (p) => p === 5432 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).message).toMatch(/local port 5432 .* already in use/);
    expect((err as EnvironmentError).fix).toMatch(/--pg-port/);
    expect((err as EnvironmentError).docs).toBe('local-port-in-use');
  });

  it('start launches the supervisor detached from the terminal and waits for the forwards', async () => {
    const launched: { cmd: string; args: readonly string[]; opts: { detached?: boolean } }[] = [];
    const state = path.join(dir, 'pf.json');
    const supervisorPid = 777;
    const spawnFn = ((cmd: string, args: readonly string[], opts: { detached?: boolean }) => {
      launched.push({ cmd, args, opts });
      // The "supervisor" writes its state a moment later.
      setTimeout(
        () =>
          writeState(state, {
            version: 1,
            supervisorPid,
            startedAt: 'now',
            namespace: 'learnflow',
            logFile: 'pf.log',
            forwards: [
              {
                name: 'postgresql',
                protocol: 'postgres',
                resource: 'svc/postgresql',
                localPort: 15432,
                remotePort: 5432,
                state: 'up',
                pid: 778,
                restarts: 0,
                since: 'now',
              },
            ],
          }),
        20,
      );
      return Object.assign(new EventEmitter(), { pid: supervisorPid, unref() {} });
    }) as unknown as typeof spawn;
    const { ctx } = makeCtx({ exec: kubectlFor({ postgres: true }), flags: { 'pg-port': 15432, 'state-file': state, wait: 5000 }, root: dir });
    // The fake clock does not move by itself: let each poll take real time.
    ctx.clock.sleep = (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 10)));
    const alive = new Set([supervisorPid, 778]);
    const result = await startForwards(ctx, deps({ spawn: spawnFn, isOurs: (pid) => alive.has(pid) }));
    expect(launched).toHaveLength(1);
    expect(launched[0]!.cmd).toBe(process.execPath);
    expect(launched[0]!.opts.detached).toBe(true);
    expect(launched[0]!.args).toEqual(expect.arrayContaining(['run', '--pg-port', '15432', '--state-file', state, '--only', 'postgres']));
    expect(launched[0]!.args.some((a) => a.endsWith(path.join('scripts', 'port-forward.mts')))).toBe(true);
    expect(result.steps[0]!.ok).toBe(true);
    expect(result.output).toMatch(/postgresql\s+127\.0\.0\.1:15432\s+svc\/postgresql:5432\s+778\s+up/);
    expect(result.output).toMatch(/psql -h 127\.0\.0\.1 -p 15432 -U learnflow_user -d learnflow/);

    // A second start finds it running and only shows the status.
    const again = await startForwards(ctx, deps({ spawn: spawnFn, isOurs: (pid) => alive.has(pid) }));
    expect(launched).toHaveLength(1);
    expect(again.steps[0]!.ok).toBe(true);
  });

  it('run supervises every forward, keeps the state file current, and removes it when stopped', async () => {
    const state = path.join(dir, 'pf.json');
    const abort = new AbortController();
    const spawnFn = fakeSpawn(['ready', 'ready']);
    const { ctx } = makeCtx({
      exec: kubectlFor({ postgres: true, kafkaReplicas: 1 }),
      flags: { 'pg-port': 15432, 'state-file': state },
      signal: abort.signal,
      root: dir,
    });
    const running = runSupervisor(ctx, deps({ spawn: spawnFn }));
    await until(() => readState(state)?.forwards.every((f) => f.state === 'up') === true, 'all up');
    const st = readState(state)!;
    expect(st.supervisorPid).toBe(process.pid);
    expect(st.forwards.map((f) => [f.name, f.localPort, f.pid])).toEqual([
      ['postgresql', 15432, spawnFn.children[0]!.pid],
      ['kafka-0', 29092, spawnFn.children[1]!.pid],
    ]);
    abort.abort();
    await running;
    expect(existsSync(state)).toBe(false);
    expect(spawnFn.children.every((c) => c.signalCode === 'SIGTERM')).toBe(true);
  });

  it('run refuses to start a second supervisor on the same state file', async () => {
    const state = path.join(dir, 'pf.json');
    writeState(state, { version: 1, supervisorPid: 4242, startedAt: 'x', namespace: 'learnflow', logFile: 'x', forwards: [] });
    const { ctx } = makeCtx({ exec: kubectlFor({ postgres: true }), flags: { 'state-file': state }, root: dir });
    await expect(runSupervisor(ctx, deps({ isOurs: (pid) => pid === 4242 }))).rejects.toThrow(UsageError);
  });

  const sample = (over: Partial<StateFile> = {}): StateFile => ({
    version: 1,
    supervisorPid: 500,
    startedAt: '2026-11-22T12:00:00.000Z',
    namespace: 'learnflow',
    logFile: '/tmp/pf.log',
    forwards: [
      {
        name: 'postgresql',
        protocol: 'postgres',
        resource: 'svc/postgresql',
        localPort: 5432,
        remotePort: 5432,
        state: 'up',
        pid: 501,
        restarts: 0,
        since: '2026-11-22T12:00:01.000Z',
      },
      {
        name: 'kafka-0',
        protocol: 'kafka',
        resource: 'pod/kafka-0',
        localPort: 29092,
        remotePort: 29092,
        state: 'retrying',
        pid: undefined,
        restarts: 3,
        lastError: 'kubectl exited (code 1): lost connection to pod',
        since: '2026-11-22T12:05:00.000Z',
      },
    ],
    ...over,
  });

  it('status shows each forward, its pid, and whether the local port answers; exit 1 when one is down', async () => {
    const state = path.join(dir, 'pf.json');
    writeState(state, sample());
    const { ctx } = makeCtx({ flags: { 'state-file': state }, root: dir });
    const r = await showStatus(
      ctx,
      deps({
        isOurs: (pid) => pid === 500 || pid === 501,
        probe: async (port) =>
          port === 5432 ? { answers: true, detail: 'PostgreSQL answered' } : { answers: false, detail: 'connection refused: nothing listens there' },
      }),
    );
    const checks = r.steps[0]!.checks;
    expect(r.steps[0]!.ok).toBe(false);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['supervisor', true],
      ['postgresql', true],
      ['kafka-0', false],
    ]);
    expect(checks[1]!.detail).toMatch(/kubectl pid 501.*PostgreSQL answered/);
    expect(checks[2]!.detail).toMatch(/3 restart\(s\).*last error: kubectl exited \(code 1\): lost connection to pod/);
    expect(r.output).toMatch(/kafka-0\s+127\.0\.0\.1:29092\s+pod\/kafka-0:29092\s+-\s+retrying\s+3\s+no \(connection refused/);
    expect(r.output).toMatch(/bootstrap servers: 127\.0\.0\.1:29092/);
  });

  it('status without a supervisor says how to start one, and a stale state file is reported as such', async () => {
    const state = path.join(dir, 'pf.json');
    const { ctx } = makeCtx({ flags: { 'state-file': state }, root: dir });
    const none = await showStatus(ctx, deps());
    expect(none.steps[0]!.checks[0]).toMatchObject({ name: 'supervisor', ok: false, detail: expect.stringMatching(/port-forward\.mts start/) });
    writeState(state, sample());
    const stale = await showStatus(ctx, deps({ isOurs: () => false }));
    expect(stale.steps[0]!.checks[0]!.detail).toMatch(/pid 500 is gone \(stale state file/);
  });

  it('stop ends the supervisor and any kubectl it left behind, and is a no-op when nothing runs', async () => {
    const state = path.join(dir, 'pf.json');
    writeState(state, sample());
    const alive = new Set([500, 501]);
    const d = deps({
      isOurs: (pid) => alive.has(pid),
      kill: (pid, signal) => {
        d.killed.push([pid, signal]);
        alive.delete(pid);
      },
    });
    const { ctx } = makeCtx({ flags: { 'state-file': state }, root: dir });
    // The supervisor is gone at once; kubectl 501 "survived" it (e.g. the supervisor had been SIGKILLed).
    const r = await stopForwards(ctx, d);
    expect(d.killed).toEqual([
      [500, 'SIGTERM'],
      [501, 'SIGTERM'],
    ]);
    expect(r.steps[0]!.ok).toBe(true);
    expect(existsSync(state)).toBe(false);
    const again = await stopForwards(ctx, deps());
    expect(again.steps).toEqual([]);
  });

  it('start --dry-run contacts no cluster and starts nothing: it says what start would look up and keep open', async () => {
    const exec = fakeExec();
    const spawnFn = fakeSpawn([]);
    const out: string[] = [];
    const code = await main(
      portForwardScript(deps({ spawn: spawnFn })),
      ['start', '--dry-run', '--pg-port', '15432', '--state-file', path.join(dir, 'pf.json')],
      {},
      { stdout: (t) => out.push(t), stderr: () => {}, clock: fakeClock(), exec, tty: false },
    );
    expect(code).toBe(0);
    expect(exec.calls).toEqual([]);
    expect(spawnFn.children).toEqual([]);
    expect(out.join('')).toContain('#   127.0.0.1:15432 -> svc/postgresql:5432 (if the service exists)');
    expect(out.join('')).toContain('#   127.0.0.1:BASE+i -> pod/kafka-i:BASE+i for each broker i of statefulset/kafka (BASE: 29092 for the first stack)');
    expect(existsSync(path.join(dir, 'pf.json'))).toBe(false);
  });

  it('takes its command before or after the flags (any flag, --quiet too), and needs one', async () => {
    const io = (err: string[] = []) => ({ stdout: () => {}, stderr: (l: string) => err.push(l), clock: fakeClock(), exec: fakeExec(), tty: false });
    const stateFile = path.join(dir, 'none.json');
    for (const argv of [
      ['--quiet', 'status', '--state-file', stateFile],
      ['-n', 'dev', '--json', 'status', '--state-file', stateFile],
      ['status', '--only', 'kafka', '--state-file', stateFile],
    ]) {
      const err: string[] = [];
      // No supervisor runs for that state file: status says so (exit 1), it is not a usage error (exit 2).
      expect(await main(portForwardScript(deps()), argv, {}, io(err)), argv.join(' ')).toBe(1);
      expect(err.join('\n')).not.toMatch(/unexpected argument/);
    }
    expect(await main(portForwardScript(deps()), ['status', 'extra', '--state-file', stateFile], {}, io())).toBe(2);
    const err: string[] = [];
    const code = await main(
      portForwardScript(deps()),
      [],
      {},
      { stdout: () => {}, stderr: (l) => err.push(l), clock: fakeClock(), exec: fakeExec(), tty: false },
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/say what to do: start, status, stop or run/);
    const bad = await main(
      portForwardScript(deps()),
      ['restart'],
      {},
      { stdout: () => {}, stderr: () => {}, clock: fakeClock(), exec: fakeExec(), tty: false },
    );
    expect(bad).toBe(2);
  });
});

describe('state file', () => {
  it('is written whole (tmp + rename) and a corrupt one reads as absent', () => {
    const file = path.join(dir, 'sub', 'pf.json');
    writeState(file, { version: 1, supervisorPid: 1, startedAt: 'x', namespace: 'n', logFile: 'l', forwards: [] });
    expect(JSON.parse(readFileSync(file, 'utf8')).supervisorPid).toBe(1);
    rmSync(file);
    expect(readState(file)).toBeUndefined();
  });
});

export type { Ctx };
