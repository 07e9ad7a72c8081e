// The standalone scripts (deploy-postgres.mts, verify-kafka.mts, ...) are these two builders
// applied to a component module.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Component } from '../components/types.js';
import type { Ctx } from '../run/context.js';
import { formatDuration } from '../core/duration.js';
import { withOwnership, yamlStream } from '../kube/manifests.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { runStep, skippedStep } from '../run/steps.js';
import { UsageError } from '../core/errors.js';
import { booleanFlag } from '../core/flags.js';
import { budgetFlag } from '../core/config.js';
import { ensureClusterReachable } from '../preflight/checks.js';

export const DIFF_FLAG = booleanFlag(
  'diff',
  "show what a deploy would create or change on the live cluster, field by field (the API server's dry-run), and what it would change in the Helm release; changes nothing. Exit 0: nothing would change, 1: something would",
);

/** The objects a kubectl diff names: its `diff -u` headers end in <group.version>.<Kind>.<namespace>.<name>. */
export function objectsInDiff(text: string): string[] {
  return [...text.matchAll(/^\+\+\+ \S*MERGED-\d+\/(\S+)/gm)].map((m) => m[1]!.replace(/^(?:[\w.-]+\.)?v\w+\.(\w+)\.(?:[\w-]+\.)?/, '$1/'));
}

/**
 * --diff: per component, what deploy would apply now (its desired(), reading the cluster as deploy does) against
 * the live objects, through `kubectl diff --server-side`; the diff on stdout, a check per component on stderr.
 */
export async function diffRun(ctx: Ctx, components: readonly Component[]): Promise<RunResult> {
  if (ctx.config.noCluster)
    throw new UsageError('--diff compares with the live cluster: drop --no-cluster', {
      fix: 'drop --no-cluster, or use --dry-run to see what would be applied',
    });
  if (ctx.config.dryRun)
    throw new UsageError('--diff and --dry-run: give one (--dry-run needs no cluster and shows what would be applied; --diff compares it with the cluster)');
  await ensureClusterReachable(ctx);
  ctx.preflighted = true;
  const texts: string[] = [];
  const steps = [];
  for (const c of components) {
    if (!c.desired) continue;
    steps.push(
      await runStep(ctx, {
        name: c.name,
        budgetMs: null,
        run: async (step) => {
          const d = await c.desired!(step);
          const ns = step.config.namespace;
          if (d.manifests.length) {
            const exists = await step.kube.getOptional('namespace', ns, null);
            // A server-side dry-run of objects in a namespace that does not exist fails: everything would be created.
            const r = exists
              ? await step.kube.diff(d.manifests)
              : {
                  changed: true,
                  text: d.manifests.map((m) => `# would create ${m.kind}/${m.metadata.name} (namespace ${ns} does not exist yet)`).join('\n') + '\n',
                };
            const objects = exists ? objectsInDiff(r.text) : d.manifests.map((m) => `${m.kind}/${m.metadata.name}`);
            step.check(
              'objects as deployed',
              !r.changed,
              r.changed ? `would create or change: ${objects.join(', ')}` : `${d.manifests.length} objects, none would change`,
            );
            if (r.text) texts.push(r.text.trimEnd());
          }
          if (d.release) {
            step.check(
              `${d.release.title} as deployed`,
              d.release.changes.length === 0,
              d.release.changes.length ? d.release.changes.join('; ') : 'chart and values as deployed',
            );
            if (d.release.changes.length) texts.push([`# ${d.release.title} would change:`, ...d.release.changes.map((l) => `#   ${l}`)].join('\n'));
          }
          if (d.actions) {
            step.check('versions as pinned', d.actions.length === 0, d.actions.length ? d.actions.join('; ') : 'the running versions are the pinned ones');
            if (d.actions.length) texts.push([`# ${c.title}: a deploy would also`, ...d.actions.map((l) => `#   ${l}`)].join('\n'));
          }
        },
      }),
    );
  }
  const changed = steps.some((st) => !st.ok);
  ctx.log.info(changed ? 'diff: a deploy would change what is listed above; nothing was changed' : 'diff: a deploy would change nothing; nothing was changed');
  return { steps, budgetMs: null, output: texts.length ? texts.join('\n') + '\n' : '', outputIsData: true };
}

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

/** The component's standalone deploy script (named by Component.scripts.deploy). */
export function deployScript(c: Component): ScriptDef {
  return {
    name: c.scripts.deploy,
    summary: c.summaries.deploy,
    flags: [...c.deployFlags, DIFF_FLAG],
    footer: `Exit codes: 0 deployed, 1 a step failed or the budget ran out, 2 bad usage, 3 environment not ready.\nWith --diff: 0 nothing would change, 1 something would.\nTroubleshooting: docs/troubleshooting.md; component guide: docs/${c.name}.md`,
    changesCluster: (config) => (config.options.on(DIFF_FLAG) ? false : {}),
    async run(ctx) {
      const budgetMs = ctx.config.options.get(budgetFlag(c.budgetMs)) ?? c.budgetMs;
      if (ctx.config.options.on(DIFF_FLAG)) return diffRun(ctx, [c]);
      if (ctx.config.dryRun) return dryRun(ctx, [c], { [c.name]: budgetMs });
      if (ctx.config.noCluster && c.clusterOnly) return { steps: [skippedStep(c.name, budgetMs, `--no-cluster: ${c.title} runs only in a cluster`)], budgetMs };
      const step = await runStep(ctx, { name: c.name, budgetMs, run: (s) => c.deploy(s) });
      return { steps: [step], budgetMs };
    },
  };
}

/** The component's standalone verify script (named by Component.scripts.verify). */
export function verifyScript(c: Component): ScriptDef {
  return {
    name: c.scripts.verify,
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
