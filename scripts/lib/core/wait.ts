// The one poll loop: shares the step's deadline, stops early on a terminal state, and a timeout names the state last
// seen.

import type { Deadline } from './budget.js';
import type { Clock } from './clock.js';
import { DeadlineError, EnvironmentError, KitError, StepError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { formatDuration } from './duration.js';

export interface PollResult<T> {
  done: boolean;
  /** A short description of what was seen, logged when it changes and named on timeout. */
  state: string;
  value?: T;
  /** Waiting cannot help: stop now with this error. */
  terminal?: KitError;
}

export interface WaitOptions<T> {
  what: string;
  clock: Clock;
  deadline: Deadline;
  /** `first`: the wait's first look, which may be answered from what the run read already; later looks may not. */
  probe: (look: { first: boolean }) => Promise<PollResult<T>>;
  /** Longest sleep between polls (default 2 s). */
  intervalMs?: number;
  /** First sleep (default 100 ms: a KWOK or warm cluster is often ready by then); each next one is 1.5x longer, up to intervalMs. */
  firstIntervalMs?: number;
  log?: Logger;
  signal?: AbortSignal;
}

export async function waitFor<T>(opts: WaitOptions<T>): Promise<T> {
  // Start fast and back off: most waits on a warm cluster end within a second, and a fixed 2 s
  // poll would add up to 2 s to every one of them; long waits still poll every `intervalMs`.
  const maxInterval = opts.intervalMs ?? 2000;
  let interval = Math.min(opts.firstIntervalMs ?? 100, maxInterval);
  let last = 'not checked yet';
  let first = true;
  for (;;) {
    if (opts.signal?.aborted) throw new StepError(`interrupted while waiting for ${opts.what}`);
    let result: PollResult<T>;
    try {
      result = await opts.probe({ first });
    } catch (err) {
      // An environment problem (tool missing) will not heal; a failed poll might.
      if (err instanceof EnvironmentError) throw err;
      result = { done: false, state: `check failed: ${errorMessage(err).split('\n')[0]}` };
    }
    first = false;
    if (result.state !== last) {
      opts.log?.debug(`${opts.what}: ${result.state}`);
      last = result.state;
    }
    if (result.done) return result.value as T;
    if (result.terminal) throw result.terminal;
    const remaining = opts.deadline.remaining();
    if (remaining <= 0) {
      throw new DeadlineError(`timed out after ${formatDuration(opts.deadline.elapsed())} waiting for ${opts.what}; last state: ${last}`, last, {
        fix: 'see the diagnostics above; raise the budget with --budget if the cluster is just slow',
        docs: 'budget-exceeded',
      });
    }
    await opts.clock.sleep(Math.min(interval, remaining), opts.signal);
    interval = Math.min(Math.round(interval * 1.5), maxInterval);
  }
}

/** `p`, or an error naming what was going on once `ms` have passed (`what` is read at that moment). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s while ${typeof what === 'function' ? what() : what}`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
