// Runs the kit's entry points as a user would: a child process, real argv, real exit code.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessResult } from './process.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type CliResult = ProcessResult;

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
  let signalled = false;
  return runProcess(process.execPath, ['--import', 'tsx', path.join(REPO, script), ...args], {
    cwd: REPO,
    env: { ...process.env, CI: 'true', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 120_000,
    onSpawn: (child) => {
      if (opts.signalAfterMs) setTimeout(() => child.kill(opts.signalAfterMs!.signal), opts.signalAfterMs.ms).unref();
    },
    onStderr: (stderr, child) => {
      if (opts.signalWhen && !signalled && opts.signalWhen.stderr.test(stderr)) {
        signalled = true;
        child.kill(opts.signalWhen.signal);
      }
    },
  });
}

/** A stack trace in user-facing output is a bug. */
export const STACK_TRACE = /\n\s+at [^\n]+\(?[^\n]*:\d+:\d+\)?/;
