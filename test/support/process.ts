// Run a program to completion for the test substrate (initdb, pg_ctl, Kafka's StorageTool, id, ...):
// output captured, a hard timeout, never a shell.

import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runProcess(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
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
