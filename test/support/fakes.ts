// The exec boundary and the clock, faked for unit tests. Failures go through the real check(),
// so a fake command fails exactly like a real one.

import type { Clock } from '../../scripts/lib/core/clock.js';
import { Deadline } from '../../scripts/lib/core/budget.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { Cleanup, type StepCtx } from '../../scripts/lib/run/context.js';
import { check, formatCommand, type Exec, type ExecOptions } from '../../scripts/lib/core/exec.js';
import { Kube } from '../../scripts/lib/kube/kubectl.js';
import { memoryLogger, SecretRegistry } from '../../scripts/lib/core/log.js';
import { REPO_ROOT } from '../../scripts/lib/core/repo.js';

export interface FakeReply {
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
}

export type FakeHandler = (args: readonly string[], cmd: string, opts: ExecOptions) => FakeReply | undefined;

export interface RecordedCall {
  cmd: string;
  args: readonly string[];
  line: string;
  input?: string;
}

/** Replies from the first handler that answers; an unexpected command fails the test loudly. */
export function fakeExec(...handlers: FakeHandler[]): Exec & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const exec: Exec = async (cmd, args, opts = {}) => {
    calls.push({ cmd, args, line: formatCommand(cmd, args), input: opts.input });
    for (const h of handlers) {
      const reply = h(args, cmd, opts);
      if (reply) {
        return check(
          {
            command: formatCommand(cmd, args),
            stdout: reply.stdout ?? '',
            stderr: reply.stderr ?? '',
            exitCode: reply.exitCode === undefined ? 0 : reply.exitCode,
            timedOut: reply.exitCode === null,
            durationMs: 1,
          },
          opts,
        );
      }
    }
    throw new Error(`fakeExec: unexpected command: ${formatCommand(cmd, args)}`);
  };
  return Object.assign(exec, { calls });
}

/** Matches `kubectl ... <words in order> ...`. */
export function on(words: string[], reply: FakeReply | ((args: readonly string[], opts: ExecOptions) => FakeReply)): FakeHandler {
  return (args, _cmd, opts) => {
    let i = 0;
    for (const a of args) if (a === words[i]) i++;
    if (i < words.length) return undefined;
    return typeof reply === 'function' ? reply(args, opts) : reply;
  };
}

export function fakeClock(start = Date.UTC(2026, 10, 22, 12, 0, 0)): Clock & { advance(ms: number): void; slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
    slept,
  };
}

/** A StepCtx over a fake exec and a fake clock, for component unit tests. `changes` records step.change(). */
export function fakeStep(
  exec: Exec,
  opts: { values?: Record<string, unknown>; budgetMs?: number; outDir?: string; root?: string; clock?: ReturnType<typeof fakeClock> } = {},
): StepCtx & { changes: Record<string, string>; log: ReturnType<typeof memoryLogger>; cleanup: Cleanup } {
  const clock = opts.clock ?? fakeClock();
  const config = buildConfig({ values: { namespace: 'learnflow', ...opts.values } as never, given: new Set(), positionals: [] });
  const changes: Record<string, string> = {};
  return {
    config,
    log: memoryLogger(),
    exec,
    clock,
    secrets: new SecretRegistry(),
    kube: new Kube(exec, 'learnflow'),
    cleanup: new Cleanup(),
    signal: new AbortController().signal,
    outDir: opts.outDir ?? '/tmp',
    root: opts.root ?? REPO_ROOT,
    deadline: new Deadline(clock, opts.budgetMs ?? 60_000),
    check: () => ({ name: '', ok: true, detail: '' }),
    change: (k, v) => void (changes[k] = v),
    action: () => {},
    changes,
  };
}
