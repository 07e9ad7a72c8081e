// `kubectl port-forward` as a managed resource: a free local port, ready when kubectl says
// "Forwarding from", re-opened on the same port when it drops, always closed at the end.
// supervise() keeps one up for as long as asked (scripts/port-forward.mts); probeLocalPort()
// tells whether what answers on the local port is really the service behind it.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Ctx } from './context.js';
import { StepError, errorMessage } from '../core/errors.js';
import { formatCommand } from '../core/exec.js';

export const PORT_FORWARD_READY_MS = 15_000;

export async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something already listens on 127.0.0.1:port (we could not bind it). */
export async function localPortInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

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

export interface ForwardEvent {
  state: ForwardState;
  /** kubectl's pid while one runs. */
  pid?: number;
  restarts: number;
  /** Why the last attempt failed or the forward dropped. */
  lastError?: string;
  /** When the forward entered this state (epoch ms, from the ctx clock). */
  since: number;
}

export interface SuperviseOptions {
  /** Stops supervising (and the forward) when aborted. */
  signal: AbortSignal;
  onChange?: (event: ForwardEvent) => void;
  /** First wait before re-opening; doubles on each failure up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A forward that stayed up this long resets the backoff. */
  stableMs?: number;
  /**
   * How often to look at the pods behind the forward while it is up; off when unset. kubectl keeps listening after
   * its pod is gone and fails only the next connection through it, so without this the forward reads `up` until
   * someone's connection fails. A replaced or terminating pod re-opens the forward before anyone connects.
   */
  podCheckMs?: number;
}

/**
 * kubectl's stderr lines after "Forwarding from" that mean the tunnel is broken for every new connection,
 * though older kubectl versions keep running (kubernetes/kubectl #1169, #1490): the pod behind it is gone or
 * restarted. Per-connection noise ("error copying from local connection ...") is not among them.
 */
export const BROKEN_FORWARD = /lost connection to pod|an error occurred forwarding|error upgrading connection|unable to forward port/i;

export class PortForward {
  private child?: ChildProcess;
  private port?: number;
  private restarts = 0;
  private stopped = false;
  private cleanupRegistered = false;
  private exited?: Promise<string>;
  private lastError?: string;

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

  get restartCount(): number {
    return this.restarts;
  }

  /** Opens the forward (once) and registers its cleanup. Returns the local port. */
  async start(): Promise<number> {
    this.port ??= this.target.localPort ?? (await freeLocalPort());
    this.registerCleanup();
    await this.spawn();
    return this.port;
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
        await this.spawn();
      })().finally(() => (this.reopening = undefined));
      await this.reopening;
    }
    return this.port;
  }

  private reopening?: Promise<void>;

  /**
   * Keeps the forward up until `signal` aborts or stop() is called: opens it, waits for it to drop (kubectl
   * exits, or reports the tunnel broken), re-opens it on the same local port after a backoff. Never throws
   * for a failed attempt: it reports it through onChange and tries again.
   */
  async supervise(opts: SuperviseOptions): Promise<void> {
    const min = opts.minBackoffMs ?? 1000;
    const max = opts.maxBackoffMs ?? 30_000;
    const stable = opts.stableMs ?? 60_000;
    const { clock } = this.ctx;
    const emit = (state: ForwardState) => opts.onChange?.({ state, pid: this.pid, restarts: this.restarts, lastError: this.lastError, since: clock.now() });
    this.port ??= this.target.localPort ?? (await freeLocalPort());
    this.registerCleanup();
    const onAbort = () => void this.stop();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    let backoff = min;
    let attempt = 0;
    try {
      while (!this.stopped && !opts.signal.aborted) {
        if (attempt++ > 0) this.restarts++;
        emit('starting');
        try {
          await this.spawn();
        } catch (err) {
          this.lastError = errorMessage(err);
          if (this.stopped || opts.signal.aborted) break;
          this.ctx.log.warn(`${this.target.resource}: ${this.lastError}; retrying in ${Math.round(backoff / 1000)}s`);
          emit('retrying');
          await clock.sleep(backoff, opts.signal);
          backoff = Math.min(backoff * 2, max);
          continue;
        }
        const upAt = clock.now();
        this.ctx.log.ok(`127.0.0.1:${this.port} -> ${this.target.resource}:${this.target.remotePort} is up (kubectl pid ${this.child?.pid ?? '?'})`);
        emit('up');
        const why = await this.untilDropped(opts);
        if (this.stopped || opts.signal.aborted) break;
        this.lastError = why;
        if (clock.now() - upAt >= stable) backoff = min;
        this.ctx.log.warn(`${this.target.resource}: port-forward dropped (${why}); re-opening in ${Math.round(backoff / 1000)}s`);
        emit('retrying');
        await clock.sleep(backoff, opts.signal);
        backoff = Math.min(backoff * 2, max);
      }
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      await this.stop();
      emit('stopped');
    }
  }

  /** Waits for this kubectl to go, or, with podCheckMs, for the pods behind it to change (then kills it). */
  private async untilDropped(opts: SuperviseOptions): Promise<string> {
    const exited = this.exited!;
    if (!opts.podCheckMs) return exited;
    const child = this.child!;
    const gone = new AbortController();
    const onExit = () => gone.abort();
    child.once('exit', onExit);
    const watch = async (): Promise<string | undefined> => {
      let first = await this.podsBehind();
      while (!gone.signal.aborted && !opts.signal.aborted) {
        await this.ctx.clock.sleep(opts.podCheckMs!, gone.signal).catch(() => undefined);
        if (gone.signal.aborted || opts.signal.aborted) return undefined;
        const now = await this.podsBehind();
        if (now === undefined) continue;
        if (first === undefined) first = now;
        else if (now !== first) return `the pod behind it changed (${describePods(first)} -> ${describePods(now)})`;
      }
      return undefined;
    };
    try {
      const changed = await Promise.race([exited.then(() => undefined), watch()]);
      if (changed === undefined) return exited;
      this.ctx.log.info(`${this.target.resource}: ${changed}`);
      await this.kill();
      return changed;
    } finally {
      gone.abort();
      child.off('exit', onExit);
    }
  }

  /**
   * "name=uid[deleting] ..." for the pods the forward reaches: the pod itself, or those its Service selects. Empty
   * when there are none; undefined when the API could not be asked (the forward is then left alone).
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
    try {
      const r = await this.ctx.kube.run(args, { quiet: true, allowFailure: true, timeoutMs: 10_000 });
      return r.exitCode === 0 ? r.stdout.trim() : undefined;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.kill();
  }

  private registerCleanup(): void {
    if (this.cleanupRegistered) return;
    this.cleanupRegistered = true;
    this.ctx.cleanup.defer(`port-forward ${this.target.resource}`, () => this.stop());
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 3000);
      timer.unref?.();
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private async spawn(): Promise<void> {
    const { config } = this.ctx;
    const args = [
      ...(config.context ? ['--context', config.context] : []),
      'port-forward',
      '-n',
      config.namespace,
      this.target.resource,
      `${this.port}:${this.target.remotePort}`,
      '--address',
      '127.0.0.1',
    ];
    this.ctx.log.debug(`$ ${formatCommand('kubectl', args)} &`);
    const child = this.spawnFn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    let ready = false;
    // Resolves with the reason once this kubectl is gone (or was killed because the tunnel broke).
    this.exited = new Promise<string>((resolve) => {
      let broken: string | undefined;
      child.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4096);
        if (!ready || broken) return;
        const line = d
          .toString()
          .split('\n')
          .find((l) => BROKEN_FORWARD.test(l));
        if (line) {
          broken = line.trim();
          child.kill('SIGTERM');
        }
      });
      child.once('error', (err) => resolve(`could not run kubectl: ${err.message}`));
      child.once('exit', (code, signal) => resolve(broken ?? `kubectl exited (${signal ?? `code ${code}`})${stderr ? `: ${lastLine(stderr)}` : ''}`));
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new StepError(`port-forward to ${this.target.resource} did not open within ${PORT_FORWARD_READY_MS / 1000}s${stderr ? `: ${stderr.trim()}` : ''}`, {
            docs: 'port-forward-drops',
          }),
        );
      }, PORT_FORWARD_READY_MS);
      child.stdout?.on('data', (d: Buffer) => {
        if (!ready && d.toString().includes('Forwarding from')) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new StepError(`could not start kubectl port-forward: ${err.message}`, { docs: 'missing-tools' }));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new StepError(`port-forward to ${this.target.resource} exited (code ${code})${stderr ? `: ${lastLine(stderr)}` : ''}`, {
            docs: 'port-forward-drops',
          }),
        );
      });
    });
    child.stdout?.resume();
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

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

// ---------------------------------------------------------------------------------------------
// Does the local end of a forward answer, and is it the service we expect?

export type ProbeProtocol = 'postgres' | 'kafka' | 'tcp';

export interface PortAnswer {
  answers: boolean;
  /** "PostgreSQL answered", "connection refused", ... */
  detail: string;
}

/**
 * A TCP connect alone proves only that kubectl listens. So speak a word of the protocol: PostgreSQL's
 * SSLRequest (answered 'S' or 'N' by any server) or Kafka's ApiVersions v0 (answered with our correlation id).
 * A broken tunnel accepts the connection and then closes it: that reads as "does not answer".
 */
export function probeLocalPort(port: number, protocol: ProbeProtocol, timeoutMs = 2000, host = '127.0.0.1'): Promise<PortAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let got = Buffer.alloc(0);
    let settled = false;
    const done = (r: PortAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ answers: false, detail: `no answer within ${timeoutMs / 1000}s` }), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ answers: false, detail: err.code === 'ECONNREFUSED' ? 'connection refused: nothing listens there' : errorMessage(err) }),
    );
    socket.once('connect', () => {
      if (protocol === 'tcp') return done({ answers: true, detail: 'port accepts connections' });
      socket.write(protocol === 'postgres' ? POSTGRES_SSL_REQUEST : kafkaApiVersionsRequest(KAFKA_PROBE_CORRELATION_ID));
    });
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (protocol === 'postgres') {
        const c = String.fromCharCode(got[0]!);
        done(c === 'S' || c === 'N' ? { answers: true, detail: 'PostgreSQL answered' } : { answers: false, detail: 'something answered, but not PostgreSQL' });
      } else if (got.length >= 8) {
        done(
          got.readInt32BE(4) === KAFKA_PROBE_CORRELATION_ID
            ? { answers: true, detail: 'Kafka answered' }
            : { answers: false, detail: 'something answered, but not Kafka' },
        );
      }
    });
    socket.once('close', () => done({ answers: false, detail: 'connection closed without an answer (is the pod behind the forward running?)' }));
  });
}

/** Int32 length 8, Int32 80877103: "may I use SSL?" — every PostgreSQL answers with one byte. */
export const POSTGRES_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const KAFKA_PROBE_CORRELATION_ID = 0x4c46;

/** ApiVersions (key 18) v0, which every Kafka broker accepts before any other request. */
export function kafkaApiVersionsRequest(correlationId: number, clientId = 'learnflow-probe'): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + id.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(id.length, 8);
  id.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}
