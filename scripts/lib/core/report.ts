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
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [
    line(rows[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1, -1).map(line),
    widths.map((w) => '-'.repeat(w)).join('  '),
    line(rows.at(-1)!),
  ];
  const failed = report.steps.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `  ✗ ${s.name}: ${c.name}: ${c.detail}`));
  if (failed.length) out.push('', 'Failed checks:', ...failed);
  return out.join('\n');
}

export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`).join('\n');
}
