// The tests' poller for conditions outside the kit: until a value comes (waitFor) or a condition holds (until),
// or the timeout passes. The kit's own waits use scripts/lib/core/wait.ts.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll fn until it returns a non-undefined value or the timeout passes; the last error is in the message. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 500 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** waitFor over a synchronous condition (state a fake or a child process updates). */
export async function until(cond: () => boolean, what: string, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
  await waitFor(what, async () => (cond() ? true : undefined), opts);
}
