// Runs one step within its budget (inside the run's deadline) and reports it: checks, changes, plan lines, and a
// failure with its fix. Whether later steps still run is the caller's policy.

import { Deadline } from '../core/budget.js';
import type { Ctx, StepCtx } from './context.js';
import { formatDuration } from '../core/duration.js';
import { KitError, errorMessage, docsLink, ExitCode } from '../core/errors.js';
import type { ApplyOutcome } from '../kube/kubectl.js';
import type { Manifest } from '../kube/manifests.js';
import type { Check, ReportError, StepReport } from '../core/report.js';

export interface StepDef {
  name: string;
  /** null: no deadline of its own (still bounded by the run's). */
  budgetMs: number | null;
  run(step: StepCtx): Promise<void>;
}

export function toReportError(err: unknown): ReportError {
  if (err instanceof KitError) return { message: err.message, exitCode: err.exitCode, fix: err.fix, docs: err.docs ? docsLink(err.docs) : undefined };
  return { message: errorMessage(err), exitCode: ExitCode.failed };
}

export async function runStep(ctx: Ctx, def: StepDef, parent?: Deadline): Promise<StepReport> {
  const log = ctx.log.withPrefix(def.name);
  const budget = def.budgetMs ?? parent?.remaining() ?? 24 * 3_600_000;
  const deadline = parent ? parent.child(budget) : new Deadline(ctx.clock, budget);
  const checks: Check[] = [];
  const changes: Record<string, string> = {};
  const actions: string[] = [];
  const exec = ctx.execFor ? ctx.execFor(log) : ctx.exec;
  const step: StepCtx = {
    ...ctx,
    log,
    exec,
    kube: ctx.execFor ? ctx.kube.withExec(exec) : ctx.kube,
    deadline,
    check(name, ok, detail = '') {
      const c = { name, ok, detail };
      checks.push(c);
      (ok ? log.ok : log.fail)(`${name}${detail ? ` — ${detail}` : ''}`);
      return c;
    },
    change(key, what) {
      changes[key] = what;
    },
    action(line) {
      actions.push(line);
      log.debug(`→ ${line}`);
    },
  };
  log.info(def.budgetMs === null ? 'starting' : `starting (budget ${formatDuration(def.budgetMs)})`);
  let error: ReportError | undefined;
  try {
    await def.run(step);
  } catch (err) {
    error = toReportError(err);
    if (err instanceof KitError || !(err instanceof Error)) log.fail(error.message);
    else log.fail(`internal error: ${err.stack ?? err.message}`);
    if (error.fix) log.fail(`fix: ${error.fix}`);
    if (error.docs) log.fail(`see ${error.docs}`);
  }
  const durationMs = deadline.elapsed();
  const overBudget = def.budgetMs !== null && durationMs > def.budgetMs;
  if (overBudget && !error) {
    error = {
      message: `took ${formatDuration(durationMs)}, over its budget of ${formatDuration(def.budgetMs!)}`,
      exitCode: ExitCode.failed,
      docs: docsLink('budget-exceeded'),
    };
    log.fail(error.message);
  }
  const ok = !error && checks.every((c) => c.ok);
  if (ok) log.ok(`done in ${formatDuration(durationMs)}${def.budgetMs === null ? '' : ` (budget ${formatDuration(def.budgetMs)})`}`);
  else if (!error) log.fail(`${checks.filter((c) => !c.ok).length} check(s) failed`);
  return {
    name: def.name,
    ok,
    status: ok ? 'done' : 'failed',
    durationMs,
    budgetMs: def.budgetMs,
    checks,
    ...(Object.keys(changes).length ? { changes } : {}),
    ...(actions.length ? { actions } : {}),
    ...(error ? { error } : {}),
  };
}

export function skippedStep(name: string, budgetMs: number | null, why: string): StepReport {
  return { name, ok: true, status: 'skipped', durationMs: 0, budgetMs, checks: [{ name: 'skipped', ok: true, detail: why }] };
}

/** One check of a verify step: `fn` says ok and why; a throw is a failed check with the error's first line. */
export async function runCheck(step: StepCtx, name: string, fn: () => Promise<[boolean, string]>): Promise<void> {
  try {
    const [ok, detail] = await fn();
    step.check(name, ok, detail);
  } catch (err) {
    step.check(name, false, errorMessage(err).split('\n')[0]!);
  }
}

/** Applies the manifests and records (and logs) what became of each object: the step's report lists them. */
export async function applyRecorded(
  step: StepCtx,
  manifests: readonly Manifest[],
  opts: { logUnchanged?: boolean } = {},
): Promise<Record<string, ApplyOutcome>> {
  const outcome = await step.kube.apply(manifests);
  for (const [key, what] of Object.entries(outcome)) {
    step.change(key, what);
    if (what !== 'unchanged' || opts.logUnchanged !== false) step.log.info(`${key} ${what}`);
  }
  return outcome;
}
