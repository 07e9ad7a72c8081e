// The standalone scripts (deploy-postgres.mts, verify-kafka.mts, ...) are these two builders
// applied to a component module.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Component } from './components/types.js';
import type { Ctx } from './context.js';
import { formatDuration } from './duration.js';
import { renderYaml } from './manifests.js';
import type { RunResult, ScriptDef } from './run.js';
import { runStep } from './steps.js';

/** --dry-run: the plan and the manifests, written under .learnflow/rendered/ and printed. */
export async function dryRun(ctx: Ctx, components: readonly Component[], budgets: Record<string, number | null>): Promise<RunResult> {
  const dir = path.join(ctx.outDir, 'rendered');
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  const artifacts: Record<string, string> = {};
  const steps = [];
  for (const c of components) {
    const plan = await c.plan(ctx);
    const budget = budgets[c.name] ?? null;
    out.push(`# ${c.title}${budget ? ` (budget ${formatDuration(budget)})` : ''}`, ...plan.actions.map((a, i) => `#   ${i + 1}. ${a}`));
    if (plan.manifests.length) {
      const yaml = renderYaml(plan.manifests);
      const file = path.join(dir, `${c.name}.yaml`);
      writeFileSync(file, yaml);
      artifacts[c.name] = path.relative(ctx.root, file);
      out.push(`# manifests (also in ${artifacts[c.name]}):`, yaml);
    }
    steps.push({ name: c.name, ok: true, status: 'planned' as const, durationMs: 0, budgetMs: budget, checks: plan.actions.map((a) => ({ name: 'plan', ok: true, detail: a })) });
  }
  ctx.log.info(`dry run: nothing was changed; rendered manifests in ${path.relative(ctx.root, dir)}/`);
  return { steps, budgetMs: null, artifacts, output: out.join('\n') };
}

export function deployScript(c: Component, name: string): ScriptDef {
  return {
    name,
    summary: c.summaries.deploy,
    flags: c.deployFlags,
    footer: `Exit codes: 0 deployed, 1 a step failed or the budget ran out, 2 bad usage, 3 environment not ready.\nTroubleshooting: docs/troubleshooting.md; component guide: docs/${c.name}.md`,
    changesCluster: () => ({}),
    async run(ctx) {
      const budgetMs = Number(ctx.config.flags.budget);
      if (ctx.config.dryRun) return dryRun(ctx, [c], { [c.name]: budgetMs });
      const step = await runStep(ctx, { name: c.name, budgetMs, run: (s) => c.deploy(s) });
      return { steps: [step], budgetMs };
    },
  };
}

export function verifyScript(c: Component, name: string): ScriptDef {
  return {
    name,
    summary: c.summaries.verify,
    flags: c.verifyFlags,
    footer: `Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage, 3 environment not ready.\nTroubleshooting: docs/troubleshooting.md; component guide: docs/${c.name}.md`,
    async run(ctx) {
      if (ctx.config.dryRun) {
        ctx.log.info(`dry run: would run the ${c.title} checks (see --help); nothing was contacted`);
        return { steps: [], budgetMs: null };
      }
      const step = await runStep(ctx, { name: `verify-${c.name}`, budgetMs: null, run: (s) => c.verify(s) });
      return { steps: [step], budgetMs: null };
    },
  };
}
