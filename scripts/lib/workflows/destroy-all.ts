// destroy-all: one plan, made before anything is deleted, lists exactly the kit's own objects of the stack (found by
// the ownership labels), what is kept and why, and what happens to the namespace and to anything cluster-wide.
// --dry-run prints that plan; the real run deletes by name exactly what it lists.

import type { ComponentName } from '../components/types.js';
import type { ClusterWidePlan, Component } from '../components/types.js';
import type { Ctx } from '../run/context.js';
import { errorMessage, UsageError } from '../core/errors.js';
import { booleanFlag, type FlagSpec } from '../core/flags.js';
import { YES_FLAG } from '../core/config.js';
import { deleteNamed, isUnknownResourceType, ownedNames } from '../kube/kubectl.js';
import { CREATED_BY_LABEL, MANAGED_BY, MANAGED_BY_LABEL, STACK_LABEL } from '../kube/manifests.js';
import { ensureClusterReachable, ensureTargetContext } from '../preflight/checks.js';
import { confirm, isInteractive } from '../core/prompt.js';
import type { StepReport } from '../core/report.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { runStep } from '../run/steps.js';

export interface ComponentDestroyPlan {
  name: ComponentName;
  title: string;
  /** kubectl names (kind.group/name) in the stack's namespace. */
  delete: string[];
  keep: { object: string; why: string }[];
  clusterWide?: ClusterWidePlan;
}

export interface DestroyPlan {
  namespace: string;
  purge: boolean;
  /** In removal order (the reverse of deploy). */
  components: ComponentDestroyPlan[];
  namespaceVerdict: { delete: boolean; why: string };
}

/** Namespaces that are never deleted, and never emptied by destroy-all. */
export function refuseNamespace(namespace: string, purge: boolean): void {
  if (/^kube-/.test(namespace))
    throw new UsageError(`refusing to destroy anything in ${namespace}: it belongs to Kubernetes itself`, {
      fix: 'give the namespace of your LearnFlow stack with -n (default learnflow)',
    });
  if (namespace === 'default' && purge)
    throw new UsageError("refusing --purge in namespace default: it is never deleted, and its claims and Secrets may be anyone's", {
      fix: "drop --purge (the kit's own objects are removed and the data kept), or deploy the stack into a namespace of its own",
    });
}

interface ObjectJson {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; ownerReferences?: unknown[] };
  type?: string;
}

/**
 * What lives in the namespace that the kit does not own (children of other objects and Kubernetes' own defaults
 * aside): the core kinds, and each component's custom kinds, its own and its users' (one query per component, since
 * kubectl refuses a whole list when one kind is not installed).
 */
async function foreignObjects(ctx: Ctx, all: readonly Component[]): Promise<string[]> {
  const ns = ctx.config.namespace;
  const get = (kinds: string) => ctx.kube.list<ObjectJson>(kinds).catch((err: unknown) => (isUnknownResourceType(err) ? [] : Promise.reject(err)));
  const custom = all.map((c) => [...c.owned.flatMap((o) => o.kinds.split(',')).filter((k) => k.includes('.')), ...(c.userKinds ?? [])]);
  const found = await Promise.all([
    get('all,configmap,secret,pvc,serviceaccount,networkpolicy,role,rolebinding,ingress'),
    ...custom.filter((kinds) => kinds.length).map((kinds) => get([...new Set(kinds)].join(','))),
  ]);
  return found
    .flat()
    .filter((o) => !o.metadata.ownerReferences?.length)
    .filter((o) => !(o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && o.metadata.labels?.[STACK_LABEL] === ns))
    .filter((o) => !(o.kind === 'ServiceAccount' && o.metadata.name === 'default'))
    .filter((o) => !(o.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt'))
    .filter((o) => o.type !== 'kubernetes.io/service-account-token')
    .map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);
}

async function namespaceVerdict(ctx: Ctx, purge: boolean, all: readonly Component[], everything: boolean): Promise<{ delete: boolean; why: string }> {
  const ns = ctx.config.namespace;
  if (!purge) return { delete: false, why: 'kept without --purge' };
  if (ns === 'default' || /^kube-/.test(ns)) return { delete: false, why: 'never deleted' };
  if (!everything) return { delete: false, why: 'only some components are removed (--only/--skip)' };
  const obj = await ctx.kube.getOptional<ObjectJson>('namespace', ns, null);
  if (!obj) return { delete: false, why: 'it does not exist' };
  if (obj.metadata.labels?.[CREATED_BY_LABEL] !== MANAGED_BY)
    return { delete: false, why: `the kit did not create it (no ${CREATED_BY_LABEL} label): only the kit's own objects were removed` };
  const foreign = await foreignObjects(ctx, all);
  if (foreign.length)
    return {
      delete: false,
      why: `it holds ${foreign.length} object(s) the kit does not own: ${foreign.slice(0, 6).join(', ')}${foreign.length > 6 ? ', ...' : ''}`,
    };
  return { delete: true, why: 'the kit created it and it holds nothing else' };
}

export async function planDestroy(
  ctx: Ctx,
  selected: readonly Component[],
  o: { purge: boolean; force: boolean; all: readonly Component[] },
): Promise<DestroyPlan> {
  const components = await Promise.all(
    selected.map(async (c): Promise<ComponentDestroyPlan> => {
      const plan: ComponentDestroyPlan = { name: c.name, title: c.title, delete: [], keep: [] };
      for (const sel of c.owned) {
        const names = await ownedNames(ctx.kube, sel.kinds, sel.selector);
        if (sel.data && !o.purge) plan.keep.push(...names.map((object) => ({ object, why: `${sel.data}: kept without --purge` })));
        else plan.delete.push(...names);
      }
      if (c.clusterWide) plan.clusterWide = await c.clusterWide.plan(ctx, o);
      return plan;
    }),
  );
  const everything = o.all.every((a) => selected.some((c) => c.name === a.name));
  return { namespace: ctx.config.namespace, purge: o.purge, components, namespaceVerdict: await namespaceVerdict(ctx, o.purge, o.all, everything) };
}

/** The plan as lines (the dry run's output, and the log before the question). */
export function describeDestroyPlan(plan: DestroyPlan): string[] {
  const out: string[] = [];
  for (const c of plan.components) {
    out.push(`${c.title}:`);
    if (!c.delete.length && !c.keep.length) out.push('  nothing of it in the namespace');
    for (const d of c.delete) out.push(`  delete ${d}`);
    for (const k of c.keep) out.push(`  keep   ${k.object}: ${k.why}`);
    if (c.clusterWide)
      out.push(
        `  ${c.clusterWide.remove ? 'remove' : 'keep  '} ${c.clusterWide.title}: ${c.clusterWide.why}${c.clusterWide.remove ? ` (${c.clusterWide.objects.join(', ')})` : ''}`,
      );
  }
  out.push(`namespace/${plan.namespace}: ${plan.namespaceVerdict.delete ? 'delete' : 'keep'}: ${plan.namespaceVerdict.why}`);
  return out;
}

const PURGE_FLAG = booleanFlag(
  'purge',
  'also delete the volumes (all data) and the generated Secrets, and the namespace when the kit created it and nothing else is in it',
);

export function destroyFlags(components: readonly Component[]): FlagSpec[] {
  return [
    PURGE_FLAG,
    {
      ...YES_FLAG,
      description: 'do not ask for confirmation (needed without a terminal); with --purge on a context that does not look local, --context is needed too',
    },
    ...components.flatMap((c) => (c.clusterWide ? [c.clusterWide.forceFlag] : [])),
  ];
}

export function destroyScript(
  all: Readonly<Record<ComponentName, Component>>,
  select: (ctx: Ctx) => Component[],
  baseFlags: readonly FlagSpec[],
  ask: (q: string) => Promise<boolean> = confirm,
  interactive: () => boolean = isInteractive,
): ScriptDef {
  const components = Object.values(all);
  return {
    name: 'destroy-all',
    summary:
      "Removes the kit's own objects of the LearnFlow stack (found by its labels, nothing else), in reverse order (" +
      `${components
        .map((c) => c.title)
        .reverse()
        .join(', then ')}).\nKeeps the volumes (your data) and their Secrets unless --purge; the namespace goes only with --purge, when the kit\n` +
      `created it and nothing else is in it. What a component installed cluster-wide (${
        components
          .filter((c) => c.clusterWide)
          .map((c) => c.title)
          .join(', ') || 'none'
      }) goes only when the kit\n` +
      'installed it and no other namespace uses it. Asks first; without a terminal it needs --yes. --dry-run lists every object.',
    flags: [...baseFlags, ...destroyFlags(components)],
    footer: 'Exit codes: 0 removed, 1 a step failed, 2 bad usage (or no confirmation), 3 environment not ready.\nRules: docs/operations.md#destroy',
    changesCluster: (config) => ({
      strict: config.options.on(PURGE_FLAG),
      what: config.options.on(PURGE_FLAG) ? 'delete volumes and namespaces there' : 'remove the stack there',
    }),
    async run(ctx): Promise<RunResult> {
      const o = ctx.config.options;
      const purge = o.on(PURGE_FLAG);
      const yes = o.on(YES_FLAG);
      const force = components.some((c) => c.clusterWide && o.on(c.clusterWide.forceFlag));
      refuseNamespace(ctx.config.namespace, purge);
      const selected = select(ctx).reverse();
      if (!yes && !ctx.config.dryRun && !interactive()) {
        throw new UsageError(`refusing to remove the stack in namespace ${ctx.config.namespace} without confirmation: no terminal to ask`, {
          fix: 'add --yes (see what would go first: --dry-run)',
        });
      }
      if (ctx.config.dryRun) {
        try {
          await ensureClusterReachable(ctx);
        } catch (err) {
          const rules = selected.flatMap((c) =>
            c.owned.map(
              (o) => `#   ${c.title}: ${o.kinds} labelled ${o.selector} and the kit's ownership labels${o.data ? ` (${o.data}: only with --purge)` : ''}`,
            ),
          );
          ctx.log.warn(`dry run: the cluster is not reachable, so the objects cannot be listed: ${errorMessage(err).split('\n')[0]}`);
          return { steps: [], budgetMs: null, output: ['# destroy-all would remove (cluster not reachable: the rules, not the objects)', ...rules].join('\n') };
        }
      }
      const context = await ensureTargetContext(ctx, { yes: true });
      if (!ctx.config.dryRun) await ensureClusterReachable(ctx);
      const plan = await planDestroy(ctx, selected, { purge, force, all: components });
      const lines = describeDestroyPlan(plan);
      const deleted = plan.components.flatMap((c) => c.delete);
      const data = {
        plan: {
          delete: deleted,
          keep: plan.components.flatMap((c) => c.keep),
          clusterWide: plan.components.flatMap((c) => (c.clusterWide ? [c.clusterWide] : [])),
          namespace: plan.namespaceVerdict,
        },
      };
      if (ctx.config.dryRun) {
        ctx.log.info('dry run: nothing was deleted');
        return {
          steps: [],
          budgetMs: null,
          data,
          output: [`# destroy-all plan (context ${context}, namespace ${plan.namespace})`, ...lines.map((l) => `# ${l}`)].join('\n'),
        };
      }
      for (const l of lines) ctx.log.info(l);
      const clusterWide = plan.components.flatMap((c) => (c.clusterWide?.remove ? [c.clusterWide.title] : []));
      const question =
        `Remove ${deleted.length} object(s) of ${selected.map((c) => c.title).join(', ')} from namespace ${plan.namespace}` +
        `${purge ? ' INCLUDING ALL DATA (volumes, Secrets)' : ' (volumes and Secrets kept)'}` +
        `${plan.namespaceVerdict.delete ? `, and the namespace itself` : ''}` +
        `${clusterWide.length ? `, and CLUSTER-WIDE: ${clusterWide.join(', ')}` : ''} in context ${context}?`;
      if (!yes && !(await ask(question))) throw new UsageError('not confirmed; nothing was removed');
      ctx.preflighted = true;
      const steps: StepReport[] = [];
      for (const c of plan.components) {
        const component = selected.find((x) => x.name === c.name)!;
        steps.push(
          await runStep(ctx, {
            name: `destroy-${c.name}`,
            budgetMs: null,
            run: async (s) => {
              await deleteNamed(s, c.delete);
              for (const k of c.keep) s.log.info(`kept ${k.object}: ${k.why}`);
              if (c.clusterWide && component.clusterWide) {
                if (c.clusterWide.remove) await component.clusterWide.remove(s, c.clusterWide, { purge });
                else s.log.info(`kept the ${c.clusterWide.title}: ${c.clusterWide.why}`);
              }
            },
          }),
        );
      }
      if (plan.namespaceVerdict.delete && steps.every((s) => s.ok)) {
        steps.push(
          await runStep(ctx, {
            name: 'destroy-namespace',
            budgetMs: null,
            run: async (s) => {
              await s.kube.run(['delete', 'namespace', plan.namespace, '--ignore-not-found', '--wait=false']);
              s.change(`namespace/${plan.namespace}`, 'deleted');
            },
          }),
        );
      } else ctx.log.info(`kept namespace/${plan.namespace}: ${plan.namespaceVerdict.why}`);
      return { steps, budgetMs: null, data };
    },
  };
}
