import { COMPONENTS } from '../../scripts/lib/components/index.js';
import { describe, expect, it } from 'vitest';
import { Deadline } from '../../scripts/lib/core/budget.js';
import { parseBudgets } from '../../scripts/lib/workflows/deploy-verify-all.js';
import { formatDuration, parseDuration } from '../../scripts/lib/core/duration.js';
import { DeadlineError, EnvironmentError, StepError } from '../../scripts/lib/core/errors.js';
import { waitFor } from '../../scripts/lib/core/wait.js';
import { fakeClock } from '../support/fakes.js';

describe('durations and budgets', () => {
  it.each([
    ['10m', 600_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['45', 45_000],
    ['1.5m', 90_000],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'm', '10x', '10m foo', 'abc'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());

  it('formats durations for the report', () => {
    expect(formatDuration(754)).toBe('0.8s');
    expect(formatDuration(65_000)).toBe('1m05s');
    expect(formatDuration(600_000)).toBe('10m00s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
  });

  it('has the budgets of the spec (each declared by its component, the total by the run)', () => {
    expect(parseBudgets([], COMPONENTS)).toEqual({ kafka: 600_000, postgres: 600_000, dapr: 300_000, total: 1_800_000 });
  });

  it('a child deadline never outlives its parent', () => {
    const clock = fakeClock();
    const parent = new Deadline(clock, 60_000);
    clock.advance(50_000);
    const child = parent.child(30_000);
    expect(child.remaining()).toBe(10_000);
    clock.advance(10_000);
    expect(child.expired()).toBe(true);
  });
});

describe('waitFor', () => {
  it('returns as soon as the probe is done', async () => {
    const clock = fakeClock();
    let n = 0;
    const value = await waitFor({
      what: 'x',
      clock,
      deadline: new Deadline(clock, 60_000),
      intervalMs: 2000,
      firstIntervalMs: 2000,
      probe: async () => (++n === 3 ? { done: true, state: 'ready', value: 42 } : { done: false, state: `try ${n}` }),
    });
    expect(value).toBe(42);
    expect(clock.slept).toEqual([2000, 2000]);
  });

  it('never sleeps past the deadline and names the last state on timeout', async () => {
    const clock = fakeClock();
    const deadline = new Deadline(clock, 5000);
    const err = await waitFor({
      what: 'statefulset/kafka',
      clock,
      deadline,
      intervalMs: 2000,
      firstIntervalMs: 2000,
      probe: async () => ({ done: false, state: '0/1 ready' }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as DeadlineError).message).toMatch(/timed out after 5.0s waiting for statefulset\/kafka; last state: 0\/1 ready/);
    expect(clock.slept).toEqual([2000, 2000, 1000]);
    expect(deadline.elapsed()).toBe(5000);
  });

  it('polls fast first, then backs off to the interval', async () => {
    const clock = fakeClock();
    let n = 0;
    await waitFor({ what: 'x', clock, deadline: new Deadline(clock, 60_000), intervalMs: 2000, probe: async () => ({ done: ++n === 8, state: 's' }) });
    expect(clock.slept).toEqual([100, 150, 225, 338, 507, 761, 1142]);
  });

  it('ends at once on a terminal state', async () => {
    const clock = fakeClock();
    const err = await waitFor({
      what: 'x',
      clock,
      deadline: new Deadline(clock, 600_000),
      probe: async () => ({ done: false, state: 'ImagePullBackOff', terminal: new StepError('cannot pull') }),
    }).catch((e: unknown) => e);
    expect((err as StepError).message).toBe('cannot pull');
    expect(clock.slept).toEqual([]);
  });

  it('keeps polling through a failed poll, but not through a missing tool', async () => {
    const clock = fakeClock();
    let n = 0;
    const v = await waitFor({
      what: 'x',
      clock,
      deadline: new Deadline(clock, 60_000),
      probe: async () => {
        if (++n === 1) throw new Error('connection reset');
        return { done: true, state: 'ok', value: n };
      },
    });
    expect(v).toBe(2);
    const err = await waitFor({
      what: 'x',
      clock,
      deadline: new Deadline(clock, 60_000),
      probe: async () => {
        throw new EnvironmentError('kubectl missing');
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
  });

  it('stops when interrupted', async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    controller.abort();
    const err = await waitFor({
      what: 'pods',
      clock,
      deadline: new Deadline(clock, 60_000),
      signal: controller.signal,
      probe: async () => ({ done: false, state: 's' }),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/interrupted while waiting for pods/);
  });
});

describe('waitFor looks', () => {
  it('tells the probe which look is the first (answered from the run snapshot), even when that look failed', async () => {
    const clock = fakeClock();
    const looks: boolean[] = [];
    const value = await waitFor({
      what: 'three looks',
      clock,
      deadline: new Deadline(clock, 60_000),
      probe: async ({ first }) => {
        looks.push(first);
        if (looks.length === 1) throw new Error('a failed poll');
        return { done: looks.length === 3, state: `look ${looks.length}`, value: looks.length };
      },
    });
    expect(value).toBe(3);
    expect(looks).toEqual([true, false, false]);
  });
});
