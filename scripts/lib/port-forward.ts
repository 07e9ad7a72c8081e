// `kubectl port-forward` as a managed resource: a free local port, ready when kubectl says
// "Forwarding from", re-opened on the same port when it drops, always closed at the end.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Ctx } from './context.js';
import { StepError } from './errors.js';
import { formatCommand } from './exec.js';

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

export interface PortForwardTarget {
  /** e.g. svc/postgresql */
  resource: string;
  remotePort: number;
  /** Fixed local port (the port-forward helper); default: a free one. */
  localPort?: number;
}

export class PortForward {
  private child?: ChildProcess;
  private port?: number;
  private restarts = 0;
  private stopped = false;

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

  /** Opens the forward (once) and registers its cleanup. Returns the local port. */
  async start(): Promise<number> {
    this.port ??= this.target.localPort ?? (await freeLocalPort());
    this.ctx.cleanup.defer(`port-forward ${this.target.resource}`, () => this.stop());
    await this.spawn();
    return this.port;
  }

  /** Re-opens a dropped forward on the same local port (idle timeouts, pod restarts). */
  async ensure(): Promise<number> {
    if (!this.port) return this.start();
    if (!this.alive && !this.stopped) {
      this.restarts++;
      this.ctx.log.warn(`port-forward to ${this.target.resource} dropped; re-opening (${this.restarts})`);
      await this.spawn();
    }
    return this.port;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 3000).unref();
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
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new StepError(`port-forward to ${this.target.resource} did not open within ${PORT_FORWARD_READY_MS / 1000}s${stderr ? `: ${stderr.trim()}` : ''}`, { docs: 'port-forward-drops' }));
      }, PORT_FORWARD_READY_MS);
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('Forwarding from')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new StepError(`could not start kubectl port-forward: ${err.message}`, { docs: 'missing-tools' }));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new StepError(`port-forward to ${this.target.resource} exited (code ${code})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`, { docs: 'port-forward-drops' }));
      });
    });
    child.stdout?.resume();
  }
}
