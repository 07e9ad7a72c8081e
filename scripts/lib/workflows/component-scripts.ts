// The standalone scripts (deploy-postgres.mts, verify-kafka.mts, ...) are these two builders
// applied to a component module.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Component } from '../components/types.js';
import type { Ctx } from '../kube/context.js';
import { formatDuration } from '../core/duration.js';
import { withOwnership, yamlStream } from '../kube/manifests.js';
import type { RunResult, ScriptDef } from '../kube/script.js';
import { runStep, skippedStep } from '../kube/steps.js';

/** Heads every rendered file: the Secrets in it are placeholders on purpose. */
const RENDERED_HEADER =
  '# Rendered by the LearnFlow kit with --dry-run. The Secrets hold placeholders, not the generated passwords:\n' +
  '# the API server refuses them, so this file cannot set a password by accident. Deploy with the scripts instead.\n';

/**
 * --dry-run: the plan goes to the log (stderr); stdout is exactly what would be applied, one multi-document YAML
 * stream (pipeable to `kubectl apply --dry-run=server -f -`), also written per component under .learnflow/rendered/.
 */
export async function dryRun(ctx: Ctx, components: readonly Component[], budgets: Record<string, number | null>): Promise<RunResult> {
  const dir = path.join(ctx.outDir, 'rendered');
  mkdirSync(dir, { recursive: true });
  const artifacts: Record<string, string> = {};
  const steps = [];
  const manifests = [];
  const extras: string[] = [];
  for (const c of components) {
    const plan = await c.plan(ctx);
    const budget = budgets[c.name] ?? null;
    ctx.log.info(`plan for ${c.title}${budget ? ` (budget ${formatDuration(budget)})` : ''}:`);
    plan.actions.forEach((a, i) => ctx.log.info(`  ${i + 1}. ${a}`));
    const rendered = withOwnership(plan.manifests, ctx.config.namespace);
    if (rendered.length) {
      const file = path.join(dir, `${c.name}.yaml`);
      writeFileSync(file, RENDERED_HEADER + yamlStream(rendered));
      artifacts[c.name] = path.relative(ctx.root, file);
      manifests.push(...rendered);
    }
    const extra = await c.renderExtra?.(ctx);
    if (extra && 'yaml' in extra) extras.push(`---\n# ${extra.title}\n${extra.yaml.trim().replace(/^---\n/, '')}\n`);
    else if (extra) ctx.log.warn(`${extra.title}: not shown (${extra.skipped})`);
    steps.push({
      name: c.name,
      ok: true,
      status: 'planned' as const,
      durationMs: 0,
      budgetMs: budget,
      checks: plan.actions.map((a) => ({ name: 'plan', ok: true, detail: a })),
      actions: plan.actions,
    });
  }
  ctx.log.info(`dry run: nothing was changed; rendered manifests in ${path.relative(ctx.root, dir)}/ (Secrets as placeholders)`);
  return { steps, budgetMs: null, artifacts, output: yamlStream(manifests) + extras.join(''), outputIsData: true };
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
      if (ctx.config.noCluster && c.clusterOnly) return { steps: [skippedStep(c.name, budgetMs, `--no-cluster: ${c.title} runs only in a cluster`)], budgetMs };
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
      if (ctx.config.noCluster && c.clusterOnly)
        return { steps: [skippedStep(`verify-${c.name}`, null, `--no-cluster: ${c.title} runs only in a cluster; nothing checked`)], budgetMs: null };
      const step = await runStep(ctx, { name: `verify-${c.name}`, budgetMs: null, run: (s) => c.verify(s) });
      return { steps: [step], budgetMs: null };
    },
  };
}
