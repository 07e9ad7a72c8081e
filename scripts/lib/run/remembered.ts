// Settings a deploy applied, remembered in the cluster (a ConfigMap per component in the stack's namespace), so
// that a re-run without flags keeps them and only an explicit flag changes one (--no-network-policies /
// --network-policies, --with-redis / --no-redis). Budgets and endpoints are per run and never remembered.

import type { Ctx } from './context.js';
import { UsageError } from '../core/errors.js';
import { NETWORK_POLICIES_FLAG, NO_NETWORK_POLICIES_FLAG } from '../core/config.js';
import type { Flag, Options } from '../core/flags.js';
import type { Manifest } from '../kube/manifests.js';

export function settingsConfigMapName(component: string): string {
  return `learnflow-settings-${component}`;
}

/** What the last deploy of this component applied ({} before the first one, or with --no-cluster). */
export async function rememberedSettings(ctx: Ctx, component: string): Promise<Record<string, string>> {
  if (ctx.config.noCluster) return {};
  const cm = await ctx.kube.getOptional<{ data?: Record<string, string> }>('configmap', settingsConfigMapName(component));
  return cm?.data ?? {};
}

/** `labels`: the component's own, so that its owned-object selectors (destroy-all) find the ConfigMap. */
export function renderSettings(namespace: string, component: string, labels: Record<string, string>, values: Record<string, string>): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: settingsConfigMapName(component),
      namespace,
      labels: { 'app.kubernetes.io/part-of': 'learnflow', 'app.kubernetes.io/component': 'settings', ...labels },
    },
    data: values,
  };
}

/** An on/off setting: its on or off flag, else what was remembered, else the default; with why, for the log. */
export function chooseSetting(o: { name: string; on: Flag<'boolean'>; off: Flag<'boolean'>; options: Options; remembered?: string; fallback: boolean }): {
  value: boolean;
  why: string;
} {
  const on = o.options.on(o.on);
  const off = o.options.on(o.off);
  if (on && off) throw new UsageError(`--${o.on.name} and --${o.off.name} contradict each other: give one`);
  if (on) return { value: true, why: `${o.name} on (--${o.on.name})` };
  if (off) return { value: false, why: `${o.name} off (--${o.off.name})` };
  if (o.remembered === 'true' || o.remembered === 'false') {
    const value = o.remembered === 'true';
    const change = value ? o.off : o.on;
    return { value, why: `${o.name} ${value ? 'on' : 'off'}, as deployed (--${change.name} changes it)` };
  }
  return { value: o.fallback, why: `${o.name} ${o.fallback ? 'on' : 'off'}` };
}

/** The NetworkPolicies of a component: --network-policies / --no-network-policies, else as deployed, else on. */
export function chooseNetworkPolicies(options: Options, remembered: Record<string, string>): { value: boolean; why: string } {
  return chooseSetting({
    name: 'NetworkPolicies',
    on: NETWORK_POLICIES_FLAG,
    off: NO_NETWORK_POLICIES_FLAG,
    options,
    remembered: remembered.networkPolicies,
    fallback: true,
  });
}
