import { describe, expect, it } from 'vitest';
import { EnvironmentError, StepError } from '../../scripts/lib/core/errors.js';
import { formatTable, type Report } from '../../scripts/lib/core/report.js';
import { exitCodeOf, main, type ScriptDef } from '../../scripts/lib/cli/run.js';
import { runStep } from '../../scripts/lib/run/steps.js';
import { fakeClock, fakeExec } from '../support/fakes.js';

function io(clock = fakeClock()) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t: string) => out.push(t), stderr: (l: string) => err.push(l), clock, exec: fakeExec(), tty: false } };
}

const report = (steps: Report['steps'], ok = true): Report => ({ ok, command: 'deploy-all', durationMs: 700_000, budgetMs: 1_800_000, dryRun: false, steps });

describe('report table', () => {
  it('shows took vs budget and a verdict per step and in total', () => {
    const table = formatTable(
      report(
        [
          { name: 'kafka', ok: true, status: 'done', durationMs: 95_000, budgetMs: 600_000, checks: [] },
          { name: 'postgres', ok: false, status: 'failed', durationMs: 605_000, budgetMs: 600_000, checks: [{ name: 'wait', ok: false, detail: 'timed out' }] },
          { name: 'dapr', ok: true, status: 'skipped', durationMs: 0, budgetMs: 300_000, checks: [] },
        ],
        false,
      ),
    );
    expect(table).toMatch(/kafka\s+1m35s\s+10m00s\s+ok/);
    expect(table).toMatch(/postgres\s+10m05s\s+10m00s\s+OVER BUDGET/);
    expect(table).toMatch(/dapr\s+-\s+5m00s\s+skipped/);
    expect(table).toMatch(/total\s+11m40s\s+30m00s\s+FAILED/);
    expect(table).toContain('✗ postgres: wait: timed out');
  });

  it('maps failures to exit codes: environment 3 beats step 1', () => {
    const failed = (exitCode: number) => ({
      name: 's',
      ok: false,
      status: 'failed' as const,
      durationMs: 1,
      budgetMs: null,
      checks: [],
      error: { message: 'x', exitCode },
    });
    expect(exitCodeOf(report([failed(1), failed(3)], false))).toBe(3);
    expect(exitCodeOf(report([failed(1)], false))).toBe(1);
    expect(exitCodeOf(report([], true))).toBe(0);
  });
});

describe('runStep', () => {
  it('records checks, and marks a step that ran past its budget as failed', async () => {
    const clock = fakeClock();
    const { io: o } = io(clock);
    const { createCtx } = await import('../../scripts/lib/run/context.js');
    const { buildConfig } = await import('../../scripts/lib/core/config.js');
    const { createLogger, SecretRegistry } = await import('../../scripts/lib/core/log.js');
    const ctx = createCtx({
      config: buildConfig({ values: { namespace: 'learnflow' }, given: new Set(), positionals: [] }),
      log: createLogger({ write: o.stderr, tty: false, clock }),
      exec: o.exec,
      clock,
      secrets: new SecretRegistry(),
      signal: new AbortController().signal,
    });
    const r = await runStep(ctx, {
      name: 'kafka',
      budgetMs: 1000,
      run: async (s) => {
        s.check('a', true, 'fine');
        clock.advance(1500);
      },
    });
    expect(r).toMatchObject({ ok: false, status: 'failed', durationMs: 1500, budgetMs: 1000, checks: [{ name: 'a', ok: true, detail: 'fine' }] });
    expect(r.error?.message).toMatch(/over its budget of 1.0s/);
  });
});

describe('entry-point runner', () => {
  const def = (run: ScriptDef['run']): ScriptDef => ({ name: 'deploy-x', summary: 'Deploys x.', flags: [], run });

  it('--json prints exactly one JSON document on stdout, logs only on stderr', async () => {
    const o = io();
    const code = await main(
      def(async (ctx) => {
        ctx.log.info('progress line');
        return { steps: [{ name: 'x', ok: true, status: 'done', durationMs: 5, budgetMs: 10, checks: [] }], budgetMs: 100 };
      }),
      ['--json'],
      {},
      o.io,
    );
    expect(code).toBe(0);
    expect(o.out).toHaveLength(1);
    const doc = JSON.parse(o.out[0]!) as Report;
    expect(doc).toMatchObject({ ok: true, command: 'deploy-x', steps: [{ name: 'x', ok: true, durationMs: 5, budgetMs: 10, checks: [] }] });
    expect(typeof doc.durationMs).toBe('number');
    expect(o.err.join('\n')).toContain('progress line');
  });

  it('unknown flag: exit 2, says which, and with --json still one JSON document', async () => {
    const o = io();
    const code = await main(
      def(async () => ({ steps: [], budgetMs: null })),
      ['--json', '--frobnicate'],
      {},
      o.io,
    );
    expect(code).toBe(2);
    expect(o.err.join('\n')).toContain('unknown flag --frobnicate');
    expect(JSON.parse(o.out.join(''))).toMatchObject({ ok: false, error: { exitCode: 2 } });
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const o = io();
    expect(
      await main(
        def(async () => ({ steps: [], budgetMs: null })),
        ['--help'],
        {},
        o.io,
      ),
    ).toBe(0);
    expect(o.out.join('')).toMatch(/^Usage: deploy-x.mts \[flags\]/);
    expect(o.out.join('')).toContain('--dry-run');
  });

  it('an environment error exits 3 with its fix and no stack trace', async () => {
    const o = io();
    const code = await main(
      def(async () => {
        throw new EnvironmentError('no default StorageClass', { fix: 'kubectl patch ...', docs: 'no-default-storageclass' });
      }),
      [],
      {},
      o.io,
    );
    expect(code).toBe(3);
    const err = o.err.join('\n');
    expect(err).toContain('no default StorageClass');
    expect(err).toContain('fix: kubectl patch ...');
    expect(err).toContain('docs/troubleshooting.md#no-default-storageclass');
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('a failed step exits 1', async () => {
    const o = io();
    const code = await main(
      def(async () => ({
        steps: [{ name: 'x', ok: false, status: 'failed', durationMs: 1, budgetMs: null, checks: [], error: { message: 'boom', exitCode: 1 } }],
        budgetMs: null,
      })),
      [],
      {},
      o.io,
    );
    expect(code).toBe(1);
  });

  it('never prints a registered secret or a URL password, in JSON or in logs', async () => {
    const o = io();
    await main(
      def(async (ctx) => {
        ctx.secrets.add('generated-pw-123');
        ctx.log.info('password is generated-pw-123');
        throw new StepError('failed with generated-pw-123');
      }),
      ['--json', '--pg-url', 'postgres://u:url-pw-456@h:5432/db'],
      {},
      { ...o.io },
    ).catch(() => 0);
    const all = o.out.join('') + o.err.join('\n');
    expect(all).not.toContain('generated-pw-123');
    expect(all).not.toContain('url-pw-456');
  });
});

describe('terminal status line', () => {
  it('keeps the bottom line for elapsed time and what each component does; log lines scroll above it', async () => {
    const { createLogger } = await import('../../scripts/lib/core/log.js');
    const clock = fakeClock();
    const raw: string[] = [];
    const log = createLogger({ tty: true, clock, statusLine: (t) => raw.push(t), write: () => raw.push('PLAIN') });
    log.withPrefix('kafka').info('starting (budget 10m00s)');
    clock.advance(65_000);
    log.withPrefix('postgres').debug('statefulset/postgresql in learnflow to be ready: 0/1 ready');
    log.withPrefix('kafka').ok('done');
    expect(raw).not.toContain('PLAIN');
    const last = raw.at(-1)!;
    expect(last).toContain('⏱ 1m05s');
    expect(last).toContain('kafka: done');
    expect(last).toContain('postgres: statefulset/postgresql in learnflow to be ready: 0/1 ready');
    expect(raw.filter((r) => r.includes('\n')).length).toBe(2); // the debug line went only to the status line
    log.close();
    expect(raw.at(-1)).toBe('\r\x1b[2K');
  });

  it('is not used off a terminal (CI, pipes): plain timestamped lines only', async () => {
    const { createLogger } = await import('../../scripts/lib/core/log.js');
    const raw: string[] = [];
    const lines: string[] = [];
    const log = createLogger({ tty: false, clock: fakeClock(), statusLine: (t) => raw.push(t), write: (l) => lines.push(l) });
    log.info('hello');
    log.close();
    expect(raw).toEqual([]);
    expect(lines).toEqual(['12:00:00 • hello']);
  });
});
