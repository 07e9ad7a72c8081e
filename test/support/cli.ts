// Runs the kit's entry points as a user would: a child process, real argv, real exit code.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export function runKit(
  script: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    signalAfterMs?: { signal: NodeJS.Signals; ms: number };
    signalWhen?: { signal: NodeJS.Signals; stderr: RegExp };
  } = {},
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, script), ...args], {
      cwd: REPO,
      env: { ...process.env, CI: 'true', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.signalWhen && !signalled && opts.signalWhen.stderr.test(stderr)) {
        signalled = true;
        child.kill(opts.signalWhen.signal);
      }
    });
    const limit = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    if (opts.signalAfterMs) setTimeout(() => child.kill(opts.signalAfterMs!.signal), opts.signalAfterMs.ms).unref();
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

/** A stack trace in user-facing output is a bug. */
export const STACK_TRACE = /\n\s+at [^\n]+\(?[^\n]*:\d+:\d+\)?/;
