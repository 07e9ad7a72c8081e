// The run report: one shape for humans (a table) and machines (--json).

import { formatDuration } from './duration.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export type StepStatus = 'done' | 'failed' | 'skipped' | 'planned';

export interface StepReport {
  name: string;
  ok: boolean;
  status: StepStatus;
  durationMs: number;
  /** null when the step has no budget (verify steps). */
  budgetMs: number | null;
  checks: Check[];
  /** What changed: e.g. { "statefulset/postgresql": "unchanged", "topic learning.queries": "created" } */
  changes?: Record<string, string>;
  /** The plan lines of the actions it ran (a deploy) or would run (--dry-run): one list, rendered both ways. */
  actions?: string[];
  error?: ReportError;
}

export interface ReportError {
  message: string;
  exitCode: number;
  fix?: string;
  docs?: string;
}

export interface Report {
  ok: boolean;
  command: string;
  durationMs: number;
  budgetMs: number | null;
  dryRun: boolean;
  steps: StepReport[];
  error?: ReportError;
  /** Where a diagnostics bundle or rendered manifests were written. */
  artifacts?: Record<string, string>;
  /** Script-specific findings for machines (e.g. the image list of images.mts). */
  data?: Record<string, unknown>;
}

export function verdict(step: Pick<StepReport, 'ok' | 'status' | 'durationMs' | 'budgetMs'>): string {
  if (step.status === 'skipped') return 'skipped';
  if (step.status === 'planned') return 'planned';
  if (step.budgetMs !== null && step.durationMs > step.budgetMs) return 'OVER BUDGET';
  return step.ok ? 'ok' : 'FAILED';
}

/** The kit's one text table: columns aligned, two spaces apart; `rules`: row indexes that get a dashed line before. */
export function columns(rows: readonly (readonly string[])[], opts: { rules?: readonly number[] } = {}): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return rows
    .flatMap((r, i) => [
      ...(opts.rules?.includes(i) ? [rule] : []),
      r
        .map((c, j) => c.padEnd(widths[j]!))
        .join('  ')
        .trimEnd(),
    ])
    .join('\n');
}

/** The closing table: step, took, budget, verdict; then the failed checks. */
export function formatTable(report: Report): string {
  const rows: string[][] = [['step', 'took', 'budget', 'result']];
  for (const s of report.steps) {
    rows.push([
      s.name,
      s.status === 'skipped' || s.status === 'planned' ? '-' : formatDuration(s.durationMs),
      s.budgetMs === null ? '-' : formatDuration(s.budgetMs),
      verdict(s),
    ]);
  }
  rows.push(['total', formatDuration(report.durationMs), report.budgetMs === null ? '-' : formatDuration(report.budgetMs), report.ok ? 'ok' : 'FAILED']);
  const out = columns(rows, { rules: [1, rows.length - 1] }).split('\n');
  const failed = report.steps.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `  ✗ ${s.name}: ${c.name}: ${c.detail}`));
  if (failed.length) out.push('', 'Failed checks:', ...failed);
  return out.join('\n');
}

/** A file's size for people: 512 B, 640.0 KiB, 12.3 MiB, 1.25 GiB. */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
