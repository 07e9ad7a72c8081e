// `kubectl port-forward` as a managed resource: a free local port, ready when kubectl says "Forwarding from",
// always closed at the end of the run. A run's forward is re-opened on demand (ensure); the supervisor of
// scripts/port-forward.mts keeps one up by itself (supervise), watching the pods behind it.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Ctx } from './context.js';
import { StepError, errorMessage } from '../core/errors.js';
import { formatCommand } from '../core/exec.js';

const PORT_FORWARD_READY_MS = 15_000;
/** supervise()'s backoff: doubled on each failure up to the maximum; a forward up for STABLE_MS starts over. */
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 60_000;

/** Binds 127.0.0.1:port (0: any) and lets it go: the port it got, or undefined when the port is taken. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer().unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

export async function freeLocalPort(): Promise<number> {
  const port = await tryListen(0);
  if (port === undefined) throw new Error('could not find a free local port on 127.0.0.1');
  return port;
}

/** Whether something already listens on 127.0.0.1:port (we could not bind it). */
export async function localPortInUse(port: number): Promise<boolean> {
  return (await tryListen(port)) === undefined;
}

/** How long a port-forward probe (Component.forwards.probe) waits, and what it says of a port that does not answer. */
export const PROBE_TIMEOUT_MS = 2000;
export const NOT_ANSWERING = {
  refused: 'connection refused: nothing listens there',
  closed: 'connection closed without an answer (is the pod behind the forward running?)',
  timeout: `no answer within ${PROBE_TIMEOUT_MS / 1000}s`,
};

export interface PortForwardTarget {
  /** e.g. svc/postgresql */
  resource: string;
  remotePort: number;
  /** Fixed local port (the port-forward helper); default: a free one. */
  localPort?: number;
  /** For a Service: the selector of the pods behind it (supervise() watches them). */
  podSelector?: string;
}

export type ForwardState = 'starting' | 'up' | 'retrying' | 'stopped';

/**
 * A line of kubectl's stderr, after "Forwarding from", that means the tunnel is broken for every new connection,
 * though older kubectl versions keep running (kubernetes/kubectl #1169, #1490): the pod behind it is gone or
 * restarted. Per-connection noise ("error copying from local connection ...") is not among them.
 */
const BROKEN_FORWARD = /^.*(?:lost connection to pod|an error occurred forwarding|error upgrading connection|unable to forward port).*$/im;

export class PortForward {
  /** What supervise() reports: its state, since when (ctx clock), re-opens so far and why the last one was needed. */
  state: ForwardState = 'starting';
  since = 0;
  restarts = 0;
  lastError?: string;
  private child?: ChildProcess;
  private port?: number;
  private stopped = false;
  /** Resolves with why the current kubectl is gone (or was killed because its tunnel broke). */
  private exited: Promise<string> = Promise.resolve('not started');
  private reopening?: Promise<void>;

  constructor(
    private readonly ctx: Ctx,
    readonly target: PortForwardTarget,
    private readonly spawnFn: typeof spawn = spawn,
  ) {}

  get localPort(): number | undefined {
    return this.port;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kubectl's pid while it runs. */
  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  /** Opens the forward and registers its cleanup; returns the local port. */
  async start(): Promise<number> {
    await this.claimPort();
    await this.open();
    return this.port!;
  }

  /**
   * Re-opens a dropped forward on the same local port (idle timeouts, pod restarts). Callers at once (connections
   * opened together) share one re-open: two kubectl processes cannot both bind the port.
   */
  async ensure(): Promise<number> {
    if (!this.port) return this.start();
    if (!this.alive && !this.stopped) {
      this.reopening ??= (async () => {
        this.restarts++;
        this.ctx.log.warn(`port-forward to ${this.target.resource} dropped; re-opening (${this.restarts})`);
        await this.open();
      })().finally(() => (this.reopening = undefined));
      await this.reopening;
    }
    return this.port;
  }

  /**
   * Keeps the forward up until `signal` aborts: opens it, waits for it to drop (kubectl exits, reports the tunnel
   * broken, or with podCheckMs the pods behind it change), re-opens it on the same local port after a backoff.
   * Never throws for a failed attempt: onChange hears of every state, and it tries again.
   */
  async supervise(signal: AbortSignal, opts: { podCheckMs?: number; onChange?: () => void } = {}): Promise<void> {
    const { clock, log } = this.ctx;
    const enter = (state: ForwardState) => {
      this.state = state;
      this.since = clock.now();
      opts.onChange?.();
    };
    await this.claimPort();
    const onAbort = () => void this.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    let backoff = MIN_BACKOFF_MS;
    try {
      for (let attempt = 0; !this.stopped && !signal.aborted; attempt++) {
        if (attempt > 0) this.restarts++;
        enter('starting');
        let upAt: number | undefined;
        try {
          await this.open();
          upAt = clock.now();
          log.ok(`127.0.0.1:${this.port} -> ${this.target.resource}:${this.target.remotePort} is up (kubectl pid ${this.child?.pid ?? '?'})`);
          enter('up');
          this.lastError = await this.untilDropped(signal, opts.podCheckMs);
        } catch (err) {
          this.lastError = errorMessage(err);
        }
        if (this.stopped || signal.aborted) break;
        if (upAt !== undefined && clock.now() - upAt >= STABLE_MS) backoff = MIN_BACKOFF_MS;
        const wait = `${Math.round(backoff / 1000)}s`;
        log.warn(
          `${this.target.resource}: ${upAt === undefined ? `${this.lastError}; retrying in ${wait}` : `port-forward dropped (${this.lastError}); re-opening in ${wait}`}`,
        );
        enter('retrying');
        await clock.sleep(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      await this.stop();
      enter('stopped');
    }
  }

  /**
   * Why this kubectl went. With podCheckMs, the pods behind it are looked at that often: kubectl keeps listening
   * after its pod is gone and fails only the next connection through it, so a replaced or terminating pod re-opens
   * the forward before anyone connects. An API that cannot be asked leaves the forward alone.
   */
  private async untilDropped(signal: AbortSignal, podCheckMs?: number): Promise<string> {
    if (!podCheckMs) return this.exited;
    const gone = new AbortController();
    const exited = this.exited.finally(() => gone.abort());
    const watching = AbortSignal.any([signal, gone.signal]);
    let seen = await this.podsBehind();
    while (!watching.aborted) {
      await this.ctx.clock.sleep(podCheckMs, watching);
      const now = watching.aborted ? undefined : await this.podsBehind();
      if (now === undefined) continue;
      if (seen === undefined) seen = now;
      else if (now !== seen) {
        const why = `the pod behind it changed (${describePods(seen)} -> ${describePods(now)})`;
        this.ctx.log.info(`${this.target.resource}: ${why}`);
        await this.kill();
        return why;
      }
    }
    return exited;
  }

  /**
   * "name=uid[deletionTimestamp] ..." for the pods the forward reaches: the pod itself, or those its Service selects.
   * Empty when there are none; undefined when the API could not be asked.
   */
  private async podsBehind(): Promise<string | undefined> {
    const [kind, name] = this.target.resource.split('/');
    const item = '{.metadata.name}={.metadata.uid}{.metadata.deletionTimestamp}';
    const ns = ['-n', this.ctx.config.namespace];
    const args =
      kind === 'pod'
        ? ['get', 'pod', name!, ...ns, '--ignore-not-found', '-o', `jsonpath=${item}`]
        : this.target.podSelector
          ? ['get', 'pods', ...ns, '-l', this.target.podSelector, '-o', `jsonpath={range .items[*]}${item}{" "}{end}`]
          : undefined;
    if (!args) return undefined;
    const r = await this.ctx.kube.run(args, { quiet: true, allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
    return r?.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.kill();
  }

  /** The local port (fixed or a free one), and the forward's cleanup at the end of the run, once. */
  private async claimPort(): Promise<void> {
    if (this.port) return;
    this.port = this.target.localPort ?? (await freeLocalPort());
    this.ctx.cleanup.defer(`port-forward ${this.target.resource}`, () => this.stop());
  }

  /** SIGTERM, then SIGKILL after 3 s. */
  private async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** Starts kubectl and waits for "Forwarding from"; fails with kubectl's own words when it exits first. */
  private async open(): Promise<void> {
    const { config } = this.ctx;
    const { resource, remotePort } = this.target;
    const context = config.context ? ['--context', config.context] : [];
    const args = [...context, 'port-forward', '-n', config.namespace, resource, `${this.port}:${remotePort}`, '--address', '127.0.0.1'];
    this.ctx.log.debug(`$ ${formatCommand('kubectl', args)} &`);
    const child = this.spawnFn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    let ready = false;
    let broken: string | undefined;
    const said = () => (stderr ? `: ${stderr.trim().split('\n').pop()}` : '');
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4096);
      const line = ready && !broken ? BROKEN_FORWARD.exec(d.toString())?.[0] : undefined;
      if (line) {
        broken = line.trim();
        child.kill('SIGTERM');
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => resolve(`could not run kubectl: ${err.message}`));
      child.once('exit', (code, signal) => resolve(broken ?? `kubectl exited (${signal ?? `code ${code}`})${said()}`));
    });
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        const why = stderr ? `: ${stderr.trim()}` : '';
        reject(new StepError(`port-forward to ${resource} did not open within ${PORT_FORWARD_READY_MS / 1000}s${why}`, { docs: 'port-forward-drops' }));
      }, PORT_FORWARD_READY_MS);
      child.stdout?.on('data', (d: Buffer) => {
        if (!ready && d.toString().includes('Forwarding from')) {
          ready = true;
          resolve();
        }
      });
      child.once('error', (err) => reject(new StepError(`could not start kubectl port-forward: ${err.message}`, { docs: 'missing-tools' })));
      child.once('exit', (code) => reject(new StepError(`port-forward to ${resource} exited (code ${code})${said()}`, { docs: 'port-forward-drops' })));
    }).finally(() => clearTimeout(timer));
  }
}

/** "kafka-0 (uid 1a2b3c4d)" per pod, "terminating" when it is being deleted, "none" for no pod. */
function describePods(fingerprint: string): string {
  if (!fingerprint) return 'none';
  return fingerprint
    .split(' ')
    .map((p) => {
      const [name, rest = ''] = p.split('=');
      return `${name} (uid ${rest.slice(0, 8)}${rest.length > 36 ? ', terminating' : ''})`;
    })
    .join(', ');
}
