// The chart values: k8s/dapr/values.yaml as helm will see it (compared with the live release, so a re-run is a
// no-op), the control plane's requests for preflight's capacity check, and the images the chart pulls.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Resources } from '../../preflight/capacity.js';
import { parseCpu, parseMemory } from '../../kube/quantity.js';
import type { ImageUse } from '../types.js';
import { VALUES_FILE } from './settings.js';

export type Values = Record<string, unknown>;

export function loadValues(file: string): Values {
  const parsed = parse(readFileSync(file, 'utf8')) as Values | null;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file}: expected a YAML mapping of chart values`);
  return parsed;
}

/** values.yaml with --set-string a.b=c applied, i.e. what `helm get values` returns after the upgrade. */
export function desiredValues(base: Values, setString: Readonly<Record<string, unknown>>): Values {
  const out = structuredClone(base);
  for (const [dotted, value] of Object.entries(setString)) {
    const keys = dotted.split('.');
    let node: Values = out;
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
      if (!next || typeof next !== 'object' || Array.isArray(next)) node[k] = {};
      node = node[k] as Values;
    }
    node[keys.at(-1)!] = value;
  }
  return out;
}

export interface ControlPlaneWorkload {
  kind: 'deployment' | 'statefulset';
  /** Also the value of its pods' `app` label. */
  name: string;
  valuesKey: string;
  /** Replicas without HA. The scheduler is always 3 (hard-wired in the chart since 1.15). */
  replicas: number;
}

/** The control plane's workloads as deployed: without the scheduler when --no-scheduler turned it off. */
export function controlPlaneOf(scheduler: boolean): readonly ControlPlaneWorkload[] {
  return scheduler ? CONTROL_PLANE : CONTROL_PLANE.filter((w) => w.valuesKey !== 'dapr_scheduler');
}

/** The chart value --no-scheduler sets (typed: the chart's templates compare it with the boolean true). */
export const SCHEDULER_OFF = { 'global.scheduler.enabled': false } as const;

export const CONTROL_PLANE: readonly ControlPlaneWorkload[] = [
  { kind: 'deployment', name: 'dapr-operator', valuesKey: 'dapr_operator', replicas: 1 },
  { kind: 'deployment', name: 'dapr-sentry', valuesKey: 'dapr_sentry', replicas: 1 },
  { kind: 'deployment', name: 'dapr-sidecar-injector', valuesKey: 'dapr_sidecar_injector', replicas: 1 },
  { kind: 'statefulset', name: 'dapr-placement-server', valuesKey: 'dapr_placement', replicas: 1 },
  { kind: 'statefulset', name: 'dapr-scheduler-server', valuesKey: 'dapr_scheduler', replicas: 3 },
];

function get(values: Values, ...keys: string[]): unknown {
  let node: unknown = values;
  for (const k of keys) node = node && typeof node === 'object' ? (node as Values)[k] : undefined;
  return node;
}

/** Requests of the control plane as the values configure it (with HA on, 3 replicas of every workload). */
export function controlPlaneRequests(values: Values, workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE): Resources {
  const ha = get(values, 'global', 'ha', 'enabled') === true;
  let cpuMillis = 0;
  let memoryBytes = 0;
  for (const w of workloads) {
    const requests = get(values, w.valuesKey, 'resources', 'requests') as { cpu?: string; memory?: string } | undefined;
    const n = ha ? 3 : w.replicas;
    cpuMillis += parseCpu(requests?.cpu) * n;
    memoryBytes += parseMemory(requests?.memory) * n;
  }
  return { cpuMillis, memoryBytes };
}

/** One line per leaf: dapr_scheduler.cluster.storageSize=1Gi (for --dry-run and logs). */
export function flattenValues(values: Values, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flattenValues(v as Values, key));
    else out.push(`${key}=${JSON.stringify(v)}`);
  }
  return out;
}

/**
 * The images of the Dapr chart (dapr/dapr charts/dapr), for scripts/images.mts: each sub-chart's values.yaml names
 * its image, and the templates build "<global.registry>/<name>:<global.tag>". The injector runs the "injector"
 * image and injects "daprd" into every annotated pod. A slow pull of one is what trips the control plane's wait.
 */
export const DAPR_CHART_IMAGES: readonly { name: string; what: string }[] = [
  { name: 'operator', what: 'dapr-operator' },
  { name: 'placement', what: 'dapr-placement-server' },
  { name: 'sentry', what: 'dapr-sentry' },
  { name: 'injector', what: 'dapr-sidecar-injector' },
  { name: 'scheduler', what: 'dapr-scheduler-server' },
  { name: 'daprd', what: 'the sidecar injected into every Dapr-enabled pod' },
];

export const DAPR_DEFAULT_REGISTRY = 'ghcr.io/dapr';

/** global.registry from k8s/dapr/values.yaml when it overrides the chart's. */
export function daprRegistry(root: string): string {
  return (get(loadValues(path.join(root, VALUES_FILE)), 'global', 'registry') as string | undefined) ?? DAPR_DEFAULT_REGISTRY;
}

export function daprChartImages(version: string, registry = DAPR_DEFAULT_REGISTRY, opts: { scheduler?: boolean } = {}): ImageUse[] {
  return DAPR_CHART_IMAGES.filter((i) => opts.scheduler !== false || i.name !== 'scheduler').map((i) => ({
    image: `${registry}/${i.name}:${version}`,
    source: `Dapr chart: ${i.what}`,
  }));
}
