// deploy-all, verify-all and destroy-all: components run in stages against budgets, a shared total
// deadline, one preflight before the clock starts, one report.

import path from 'node:path';
import { Deadline, TOTAL_BUDGET_MS } from '../core/budget.js';
import { add, formatResources, manifestRequests, type Resources } from '../preflight/capacity.js';
import { DIFF_FLAG, diffRun, dryRun } from './component-scripts.js';
import { deployStages } from '../components/index.js';
import type { Component, ComponentName } from '../components/types.js';
import { KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, NO_NETWORK_POLICIES_FLAG, PG_URL_FLAG, YES_FLAG } from '../core/config.js';
import type { Ctx } from '../run/context.js';
import { runSnapshotSpec } from '../kube/snapshot.js';
import { writeDiagnostics } from '../run/diagnostics-bundle.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { docsLink, EnvironmentError, KitError, StepError, UsageError } from '../core/errors.js';
import { booleanFlag, flag, type FlagSpec, type FlagValue } from '../core/flags.js';
import { networkPolicySupport } from '../preflight/netpol-support.js';
import { ensureCapacity, ensureClusterReachable, ensureDefaultStorageClass, ensureTargetContext, ensureTools } from '../preflight/checks.js';
import type { StepReport } from '../core/report.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { runStep, skippedStep } from '../run/steps.js';
import { destroyScript } from './destroy-all.js';
import { howToConnect } from '../tools/status.js';
import { confirm, isInteractive } from '../core/prompt.js';

/** A run's budgets: each component's own (Component.budgetMs) unless --budget NAME=DURATION says otherwise, and the total. */
export type Budgets = Readonly<Record<ComponentName, number>> & { readonly total: number };

export function parseBudgets(items: readonly string[] | undefined, all: Readonly<Record<ComponentName, Component>>): Budgets {
  const budgets: Record<string, number> = { ...Object.fromEntries(Object.values(all).map((c) => [c.name, c.budgetMs])), total: TOTAL_BUDGET_MS };
  const keys = [...Object.keys(all), 'total'];
  for (const item of items ?? []) {
    const [key, value] = item.split('=');
    if (value !== undefined && /^\d+$/.test(value.trim())) throw new UsageError(`--budget: '${item}' has no unit: say ${value}m or ${value}s`);
    const ms = value === undefined ? undefined : parseDuration(value);
    if (!key || !keys.includes(key) || ms === undefined || ms <= 0) {
      throw new UsageError(`--budget: '${item}' is not NAME=DURATION with NAME one of ${keys.join(', ')} (e.g. --budget kafka=15m,total=40m)`);
    }
    budgets[key] = ms;
  }
  return budgets as Budgets;
}

function budgetOf(budgets: Budgets, c: Pick<Component, 'name' | 'budgetMs'>): number {
  return budgets[c.name] ?? c.budgetMs;
}

const validateBudgets = (all: Readonly<Record<ComponentName, Component>>) => (v: FlagValue) => {
  try {
    parseBudgets(v as string[], all);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^--budget: /, '');
  }
};

/** "Kafka and PostgreSQL together, then Dapr": the deploy stages, from the components' dependsOn. */
function stagesText(components: readonly Component[]): string {
  const all = Object.fromEntries(components.map((c) => [c.name, c]));
  const title = (n: ComponentName) => all[n]?.title ?? n;
  const names = (stage: readonly ComponentName[]) =>
    stage.length > 1 ? `${stage.slice(0, -1).map(title).join(', ')} and ${title(stage.at(-1)!)} together` : title(stage[0]!);
  return deployStages(Object.keys(all), false, all).map(names).join(', then ');
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)}m`;

/** "Kafka 10m, PostgreSQL 10m, Dapr 5m, all 30m": each component's own budget and the total. */
function budgetsText(components: readonly Component[]): string {
  return [...components.map((c) => `${c.title} ${minutes(c.budgetMs)}`), `all ${minutes(TOTAL_BUDGET_MS)}`].join(', ');
}

// The component names, budgets and stages in these flags' help and checks are the registry's (masterFlags).
export const ONLY_FLAG = flag({ name: 'only', kind: 'list', valueName: 'NAMES', description: 'run only these components (comma-separated)' });
export const SKIP_FLAG = flag({ name: 'skip', kind: 'list', valueName: 'NAMES', description: 'leave these components out' });
const BUDGETS_FLAG = flag({ name: 'budget', kind: 'list', valueName: 'NAME=DURATION,...', repeatable: true, description: 'override budgets' });
const NO_DIAGNOSTICS_FLAG = booleanFlag('no-diagnostics', 'do not write a diagnostics bundle when a step fails');

/** Its help names the stages deploy-all runs together otherwise (masterFlags). */
const SEQUENTIAL_FLAG = booleanFlag('sequential', 'deploy one component at a time');

export function masterFlags(components: readonly Component[], kind: 'deploy' | 'verify' | 'destroy'): FlagSpec[] {
  const choices = components.map((c) => c.name);
  const flags: FlagSpec[] = [
    { ...ONLY_FLAG, choices },
    { ...SKIP_FLAG, choices },
  ];
  if (kind === 'destroy') return flags; // destroy-all.ts adds --purge, --yes and the components' own
  flags.push(PG_URL_FLAG, KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG);
  if (kind === 'deploy') {
    flags.push(
      { ...SEQUENTIAL_FLAG, description: `deploy one component at a time (default: ${stagesText(components)})` },
      {
        ...BUDGETS_FLAG,
        description: `override budgets by name (defaults: ${[...components.map((c) => `${c.name} ${minutes(c.budgetMs)}`), `total ${minutes(TOTAL_BUDGET_MS)}`].join(', ')}), e.g. ${components[0]?.name ?? 'total'}=15m`,
        validate: validateBudgets(Object.fromEntries(components.map((c) => [c.name, c]))),
      },
      { ...YES_FLAG, description: 'deploy to a context that does not look like a local cluster without --context' },
      NO_DIAGNOSTICS_FLAG,
      DIFF_FLAG,
    );
  }
  // Component-specific flags (e.g. --replicas, --dapr-version), once each.
  const seen = new Set(flags.map((f) => f.name).concat(['budget']));
  for (const c of components) {
    for (const f of kind === 'deploy' ? c.deployFlags : c.verifyFlags) {
      if (seen.has(f.name)) continue;
      seen.add(f.name);
      flags.push(f);
    }
  }
  return flags;
}

export function selectComponents(all: Readonly<Record<ComponentName, Component>>, only?: readonly string[], skip?: readonly string[]): Component[] {
  const known = Object.keys(all);
  if (only !== undefined && only.length === 0)
    throw new UsageError(`--only needs at least one of ${known.join(', ')}`, { fix: `e.g. --only ${known[0]} (or leave --only out to run all)` });
  const names = known.filter((n) => (only?.length ? only.includes(n) : true) && !skip?.includes(n));
  if (names.length === 0) throw new UsageError('--only/--skip leave no component to run');
  return names.map((n) => {
    const c = all[n];
    if (!c) throw new StepError(`component ${n} is not available in this version of the kit`);
    return c;
  });
}

export async function stackRequests(ctx: Ctx, components: readonly Component[]): Promise<Resources> {
  let need: Resources = { cpuMillis: 0, memoryBytes: 0 };
  for (const c of components) {
    need = add(need, manifestRequests((await c.plan(ctx)).manifests));
    if (c.extraRequests) need = add(need, c.extraRequests(ctx));
  }
  return need;
}

/** Reads the cluster once for the run (kube/snapshot.ts): the kinds the components' plans apply and read. */
export async function snapshotStack(ctx: Ctx, components: readonly Component[]): Promise<void> {
  const manifests = (await Promise.all(components.map(async (c) => (await c.plan(ctx)).manifests))).flat();
  await ctx.kube.takeSnapshot(runSnapshotSpec(ctx.config.namespace, manifests), { timeoutMs: 30_000 });
}

/** One component's two parts (prepare, then deploy) as one report: its own time is the sum of the two. */
export function joinReports(a: StepReport, b: StepReport, budgetMs: number): StepReport {
  const changes = { ...(a.changes ?? {}), ...(b.changes ?? {}) };
  return {
    ...b,
    ok: a.ok && b.ok,
    durationMs: a.durationMs + b.durationMs,
    budgetMs,
    checks: [...a.checks, ...b.checks],
    ...(Object.keys(changes).length ? { changes } : {}),
    ...(a.actions || b.actions ? { actions: [...(a.actions ?? []), ...(b.actions ?? [])] } : {}),
  };
}

/**
 * Runs independent checks together and reports every one that failed at once (one failure as itself; several as
 * one error listing each with its fix, in the order given), so a user fixes them in one go.
 */
async function inOrder<T extends readonly unknown[]>(...tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) {
    if (!failed.every((e) => e instanceof KitError)) throw failed.find((e) => !(e instanceof KitError));
    const errors = failed as KitError[];
    const lines = errors.map((e, i) => `  ${i + 1}. ${e.message}${e.fix ? `\n     fix: ${e.fix}` : ''}${e.docs ? `\n     see ${docsLink(e.docs)}` : ''}`);
    throw new EnvironmentError(`preflight found ${errors.length} problems:\n${lines.join('\n')}`, { docs: errors[0]!.docs });
  }
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function preflight(ctx: Ctx, components: readonly Component[], yes: boolean): Promise<void> {
  // Each check is one short kubectl call: together they cost one, in sequence their sum.
  const [tools, context] = await inOrder<[Awaited<ReturnType<typeof ensureTools>>, string]>(
    ensureTools(ctx, { helm: components.some((c) => c.helmReleases?.length) }),
    ensureTargetContext(ctx, { yes }),
  );
  const server = await ensureClusterReachable(ctx);
  ctx.log.info(`context ${context}, Kubernetes ${server.gitVersion}, kubectl ${tools.kubectl}${tools.helm ? `, helm ${tools.helm}` : ''}`);
  const checkPolicies = !ctx.config.options.on(NO_NETWORK_POLICIES_FLAG);
  const need = await stackRequests(ctx, components);
  // One read of what the checks below and the components' deploys look at (a re-run then reads nothing more).
  await snapshotStack(ctx, components);
  // One list of every pod: the capacity check counts them, the NetworkPolicy check reads kube-system's.
  type PodJson = {
    metadata: { name: string; namespace?: string };
    spec?: { containers?: { image?: string; resources?: { requests?: Record<string, string> } }[] };
  };
  const allPods = ctx.kube.list<PodJson>('pods', { namespace: null });
  const [sc, pods, free] = await inOrder<[string, PodJson[], Resources]>(
    ensureDefaultStorageClass(ctx),
    // A failed list is reported once, by the capacity check.
    allPods.catch(() => []),
    ensureCapacity(ctx, context, need, [ctx.config.namespace, ...components.flatMap((c) => c.extraNamespaces ?? [])], allPods),
  );
  const system = pods.filter((p) => p.metadata.namespace === 'kube-system');
  ctx.log.info(`default StorageClass: ${sc}`);
  if (checkPolicies) {
    // The nodes are in the run's one read of the cluster (the capacity check listed them): no extra kubectl.
    const nodes = await ctx.kube.list<{ metadata: { name: string; annotations?: Record<string, string> } }>('nodes', { namespace: null }).catch(() => []);
    const verdict = networkPolicySupport(system, context, nodes);
    if (verdict.enforcement === 'enforced') ctx.log.info(`NetworkPolicies: ${verdict.why}`);
    else
      ctx.log.warn(
        `NetworkPolicies are created but ${verdict.enforcement === 'unknown' ? 'may not be' : 'will not be'} enforced: ${verdict.why} (docs/security.md#network-policies)`,
      );
  }
  ctx.log.ok(`preflight passed: the stack requests ${formatResources(need)}; the nodes can give ${formatResources(free)}`);
  ctx.preflighted = true;
}

export function deployAllScript(all: Readonly<Record<ComponentName, Component>>): ScriptDef {
  const components = Object.values(all);
  return {
    name: 'deploy-all',
    summary: `Deploys the LearnFlow infrastructure: ${stagesText(components)}, each against its budget\n(${budgetsText(components)}). Preflight first (tools, context, StorageClass, capacity);\non failure it stops, leaves everything for inspection and writes a diagnostics bundle. Safe to re-run.`,
    flags: masterFlags(components, 'deploy'),
    footer:
      'Exit codes: 0 deployed, 1 a step failed or a budget ran out, 2 bad usage, 3 environment not ready.\nWith --diff: 0 nothing would change, 1 something would.\nTroubleshooting: docs/troubleshooting.md',
    changesCluster: (config) => (config.options.on(DIFF_FLAG) ? false : {}),
    async run(ctx): Promise<RunResult> {
      const o = ctx.config.options;
      const selected = selectComponents(all, o.get(ONLY_FLAG), o.get(SKIP_FLAG));
      const budgets = parseBudgets(o.get(BUDGETS_FLAG), all);
      for (const c of selected) {
        if (budgetOf(budgets, c) > budgets.total)
          ctx.log.warn(
            `the ${c.title} budget (${formatDuration(budgetOf(budgets, c))}) is above the total (${formatDuration(budgets.total)}): the total ends the run first`,
          );
      }
      if (o.on(DIFF_FLAG)) return diffRun(ctx, selected);
      if (ctx.config.dryRun) {
        const stages = deployStages(
          selected.map((c) => c.name),
          o.on(SEQUENTIAL_FLAG),
          all,
        );
        ctx.log.info(`deploy-all plan (total budget ${formatDuration(budgets.total)}): ${stages.map((s) => s.join(' + ')).join(' -> ')}`);
        const plan = await dryRun(ctx, selected, budgets);
        return { ...plan, budgetMs: budgets.total };
      }
      if (!ctx.config.noCluster) await preflight(ctx, selected, o.on(YES_FLAG));
      else ctx.preflighted = true;

      const total = new Deadline(ctx.clock, budgets.total);
      const steps: StepReport[] = [];
      let failed: string | undefined;
      const stages = deployStages(
        selected.map((c) => c.name),
        o.on(SEQUENTIAL_FLAG),
        all,
      );
      // What needs no other component (Dapr's control plane) starts at once, beside the first stage.
      const prepared = new Map<ComponentName, Promise<StepReport>>();
      if (!ctx.config.noCluster && !o.on(SEQUENTIAL_FLAG)) {
        for (const c of selected) {
          if (c.prepare && stages[0] && !stages[0].includes(c.name))
            prepared.set(c.name, runStep(ctx, { name: c.name, budgetMs: budgetOf(budgets, c), run: (s) => c.prepare!(s) }, total));
        }
      }
      const deployOne = async (name: ComponentName): Promise<StepReport> => {
        const c = all[name]!;
        const budgetMs = budgetOf(budgets, c);
        if (ctx.config.noCluster && c.clusterOnly) return skippedStep(name, budgetMs, `--no-cluster: ${c.title} runs only in a cluster`);
        const early = prepared.get(name);
        if (!early) return runStep(ctx, { name, budgetMs, run: (s) => c.deploy(s, { dependenciesReady: true }) }, total);
        const pre = await early;
        if (!pre.ok) return pre;
        // The rest of its budget: the report shows the component's own time (both parts), not the wait between.
        const rest = await runStep(
          ctx,
          { name, budgetMs: Math.max(1, budgetMs - pre.durationMs), run: (s) => c.deploy(s, { prepared: true, dependenciesReady: true }) },
          total,
        );
        return joinReports(pre, rest, budgetMs);
      };
      for (const stage of stages) {
        if (failed) {
          for (const name of stage) {
            const early = prepared.get(name);
            const pre = early ? await early : undefined;
            steps.push(
              skippedStep(name, budgetOf(budgets, all[name]!), `${pre?.ok ? 'started (control plane), but not finished' : 'not started'}: ${failed} failed`),
            );
          }
          continue;
        }
        const reports = await Promise.all(stage.map(deployOne));
        steps.push(...reports);
        failed = reports.find((r) => !r.ok)?.name;
      }
      const result: RunResult = { steps, budgetMs: budgets.total };
      if (!failed && !ctx.config.noCluster) {
        result.output = await howToConnect(ctx, Object.values(all));
        result.data = { howToConnect: result.output.trimEnd().split('\n') };
      }
      if (failed && !ctx.config.noCluster && !o.on(NO_DIAGNOSTICS_FLAG)) {
        const manifests = (await Promise.all(selected.map(async (c) => (await c.plan(ctx)).manifests))).flat();
        const dir = await writeDiagnostics(ctx, {
          namespaces: [ctx.config.namespace, ...selected.flatMap((c) => c.extraNamespaces ?? [])],
          helmReleases: selected.flatMap((c) => c.helmReleases ?? []),
          manifests,
        });
        const rel = path.relative(ctx.root, dir);
        ctx.log.fail(`left everything in place for inspection; diagnostics bundle: ${rel}/ (start with summary.txt)`);
        result.artifacts = { diagnostics: rel };
      }
      return result;
    },
  };
}

export function verifyAllScript(all: Readonly<Record<ComponentName, Component>>): ScriptDef {
  const components = Object.values(all);
  return {
    name: 'verify-all',
    summary: `Runs every component's checks (${components.map((c) => c.title).join(', ')}), even after one fails, and prints one summary.\nExit 1 if any check failed.`,
    flags: masterFlags(components, 'verify'),
    footer: 'Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage, 3 environment not ready.',
    async run(ctx): Promise<RunResult> {
      const selected = selectComponents(all, ctx.config.options.get(ONLY_FLAG), ctx.config.options.get(SKIP_FLAG));
      if (ctx.config.dryRun) {
        ctx.log.info(`dry run: would verify ${selected.map((c) => c.title).join(', ')}; nothing was contacted`);
        return { steps: [], budgetMs: null };
      }
      if (!ctx.config.noCluster) {
        await ensureClusterReachable(ctx);
        await snapshotStack(ctx, selected);
        ctx.preflighted = true;
      }
      const steps: StepReport[] = [];
      for (const stage of deployStages(
        selected.map((c) => c.name),
        false,
        all,
      )) {
        steps.push(
          ...(await Promise.all(
            stage.map((name) =>
              ctx.config.noCluster && all[name]!.clusterOnly
                ? Promise.resolve(skippedStep(`verify-${name}`, null, `--no-cluster: ${all[name]!.title} runs only in a cluster; nothing checked`))
                : runStep(ctx, { name: `verify-${name}`, budgetMs: null, run: (s) => all[name]!.verify(s) }),
            ),
          )),
        );
      }
      return { steps, budgetMs: null };
    },
  };
}

/** destroy-all over the given components (the plan, the rules and the question live in destroy-all.ts). */
export function destroyAllScript(
  all: Readonly<Record<ComponentName, Component>>,
  ask: (q: string) => Promise<boolean> = confirm,
  interactive: () => boolean = isInteractive,
): ScriptDef {
  const select = (ctx: Ctx) => selectComponents(all, ctx.config.options.get(ONLY_FLAG), ctx.config.options.get(SKIP_FLAG));
  return destroyScript(all, select, masterFlags(Object.values(all), 'destroy'), ask, interactive);
}
