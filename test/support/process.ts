// The one way the tests and the benchmarks run a program to completion (initdb, kubectl, kwokctl, the kit's own
// scripts, ...): argv, never a shell; output captured; stdin given or closed; a hard timeout. The kit's own commands
// go through scripts/lib/core/exec.ts instead (zx, with its logging and typed errors).

import { spawn, type ChildProcess } from 'node:child_process';

export interface ProcessResult {
  /** null when killed by the timeout or a signal */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface ProcessOptions {
  /** Default 60 s; the child is then killed (SIGKILL) and `code` is null. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed (closed at once when absent). */
  input?: string;
  /** Called with the child and all stderr so far on each chunk (e.g. to signal it at a given line). */
  onStderr?: (stderr: string, child: ChildProcess) => void;
  /** Called once the child started (e.g. to signal it after a delay). */
  onSpawn?: (child: ChildProcess) => void;
}

export function runProcess(cmd: string, args: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const started = process.hrtime.bigint();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const finish = (code: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${timeoutMs} ms)`;
      resolve({ code: timedOut ? null : code, stdout, stderr, timedOut, durationMs: Number(process.hrtime.bigint() - started) / 1e6 });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(stderr, child);
    });
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => finish(code));
    // After a kill, grandchildren may still hold the pipes open: do not wait for 'close' then.
    child.on('exit', (code) => {
      if (!timedOut) return;
      child.stdout.destroy();
      child.stderr.destroy();
      finish(code);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    opts.onSpawn?.(child);
  });
}

// Servers still running when the test process exits are stopped synchronously (best effort): a test that
// died before its afterAll must not leave a broker or a database behind.
const onExit = new Map<string, () => void>();
let exitHookInstalled = false;

/** Runs `stopNow` (synchronous) if the process exits while `key` is still registered. */
export function stopOnExit(key: string, stopNow: () => void): void {
  onExit.set(key, stopNow);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const stop of onExit.values()) stop();
  });
}

/** The server was stopped the normal way: nothing left to do at exit. */
export function forgetOnExit(key: string): void {
  onExit.delete(key);
}
