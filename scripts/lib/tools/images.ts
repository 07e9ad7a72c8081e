// scripts/images.mts: every image the stack pulls — from each component's rendered manifests, what a component
// declares besides (a chart's, a verify Job's), and the Dapr chart's control plane and sidecar — and the commands
// that pre-load them into minikube, kind or k3d before a deploy on a slow network.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Ctx } from '../kube/context.js';
import { errorMessage } from '../core/errors.js';
import type { FlagSpec } from '../core/flags.js';
import { readVersions, type Manifest } from '../kube/manifests.js';
import type { Check } from '../core/report.js';
import type { RunResult, ScriptDef } from '../kube/script.js';
import type { Component } from '../components/types.js';

export interface ImageRef {
  image: string;
  /** kafka, postgres, dapr */
  component: string;
  /** What pulls it: "StatefulSet/postgresql", "Dapr chart: sidecar (daprd)", ... */
  source: string;
}

export const TARGETS = ['minikube', 'kind', 'k3d', 'docker-desktop'] as const;
export type PreloadTarget = (typeof TARGETS)[number];

export const IMAGES_FLAGS: readonly FlagSpec[] = [
  {
    name: 'for',
    kind: 'string',
    valueName: 'CLUSTER',
    choices: TARGETS,
    description: 'print the pre-load commands for this kind of cluster only (default: all)',
  },
  { name: 'cluster-name', kind: 'string', valueName: 'NAME', description: 'kind / k3d cluster name for the commands (default: kind, k3s-default)' },
  { name: 'names', kind: 'boolean', description: 'print only the image names, one per line (for xargs)' },
  // Read by the Dapr component's plan(), as install-dapr's flag of the same name.
  { name: 'with-redis', kind: 'boolean', description: 'also list the optional Redis (install-dapr --with-redis)' },
];

/**
 * The images of the Dapr chart (dapr/dapr charts/dapr): each sub-chart's values.yaml names its image, and the
 * templates build "<global.registry>/<name>:<global.tag>". The injector runs the "injector" image and injects
 * "daprd" into every annotated pod.
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
  const file = path.join(root, 'k8s', 'dapr', 'values.yaml');
  if (!existsSync(file)) return DAPR_DEFAULT_REGISTRY;
  const values = parse(readFileSync(file, 'utf8')) as { global?: { registry?: string } } | null;
  return values?.global?.registry ?? DAPR_DEFAULT_REGISTRY;
}

export function daprChartImages(version: string, registry = DAPR_DEFAULT_REGISTRY): ImageRef[] {
  return DAPR_CHART_IMAGES.map((i) => ({ image: `${registry}/${i.name}:${version}`, component: 'dapr', source: `Dapr chart: ${i.what}` }));
}

interface PodSpecLike {
  containers?: { name?: string; image?: string }[];
  initContainers?: { name?: string; image?: string }[];
}

/** Every container image in the manifests (pod templates at any depth: Deployments, StatefulSets, Jobs, CronJobs, Pods). */
export function manifestImages(manifests: readonly Manifest[], component: string): ImageRef[] {
  const out: ImageRef[] = [];
  const walk = (node: unknown, owner: string) => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach((n) => walk(n, owner));
    const spec = node as PodSpecLike & Record<string, unknown>;
    for (const key of ['initContainers', 'containers'] as const) {
      const list = spec[key];
      if (!Array.isArray(list)) continue;
      for (const c of list)
        if (c && typeof c.image === 'string')
          out.push({ image: c.image, component, source: `${owner}${key === 'initContainers' ? ` (init ${c.name ?? ''})`.replace(' )', ')') : ''}` });
    }
    for (const [k, v] of Object.entries(spec)) if (k !== 'containers' && k !== 'initContainers') walk(v, owner);
  };
  for (const m of manifests) walk(m, `${m.kind}/${m.metadata.name}`);
  return out;
}

/** One entry per image, sources merged, in a stable order (component, then name). */
export function dedupe(refs: readonly ImageRef[]): ImageRef[] {
  const by = new Map<string, ImageRef>();
  for (const r of refs) {
    const seen = by.get(r.image);
    if (!seen) by.set(r.image, { ...r });
    else if (!seen.source.split('; ').includes(r.source)) seen.source += `; ${r.source}`;
  }
  const order = ['kafka', 'postgres', 'dapr'];
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length);
  return [...by.values()].sort((a, b) => rank(a.component) - rank(b.component) || a.image.localeCompare(b.image));
}

export async function collectImages(ctx: Ctx, components: readonly Component[]): Promise<{ images: ImageRef[]; checks: Check[] }> {
  const refs: ImageRef[] = [];
  const checks: Check[] = [];
  for (const c of components) {
    try {
      const plan = await c.plan(ctx);
      const found = [
        ...manifestImages(plan.manifests, c.name),
        ...(c.images?.(ctx) ?? []).map((image) => ({ image, component: c.name, source: `${c.title} (not in its manifests)` })),
      ];
      refs.push(...found);
      checks.push({ name: c.name, ok: true, detail: `${new Set(found.map((f) => f.image)).size} image(s)` });
    } catch (err) {
      checks.push({ name: c.name, ok: false, detail: `could not render its manifests: ${errorMessage(err)}` });
    }
  }
  // The chart's images whatever the Dapr component declares (it installs the chart with --wait; a slow pull is
  // what trips it).
  refs.push(...daprChartImages(readVersions().dapr.version, daprRegistry(ctx.root)));
  return { images: dedupe(refs), checks };
}

/**
 * Official Docker Hub images are referenced by short name ("postgres:17.6"); docker, minikube, kind and k3d accept
 * that as is. Pulled into the host's Docker first: a pull there is faster and resumable, and kind and k3d need it.
 */
export function preloadCommands(images: readonly string[], target: PreloadTarget, clusterName?: string): string[] {
  const pull = `for i in ${images.join(' ')}; do docker pull "$i"; done`;
  const all = images.join(' ');
  switch (target) {
    case 'minikube':
      return [pull, `minikube image load ${all}${clusterName ? ` -p ${clusterName}` : ''}`];
    case 'kind':
      return [pull, `kind load docker-image ${all} --name ${clusterName ?? 'kind'}`];
    case 'k3d':
      return [pull, `k3d image import ${all} -c ${clusterName ?? 'k3s-default'}`];
    case 'docker-desktop':
      // Its Kubernetes uses the Docker engine's own images: a pull is the pre-load.
      return [pull];
  }
}

export function formatImages(images: readonly ImageRef[], targets: readonly PreloadTarget[], clusterName?: string): string {
  const w = Math.max(...images.map((i) => i.image.length), 5);
  const cw = Math.max(...images.map((i) => i.component.length), 9);
  const lines = [
    `${'image'.padEnd(w)}  ${'component'.padEnd(cw)}  pulled by`,
    ...images.map((i) => `${i.image.padEnd(w)}  ${i.component.padEnd(cw)}  ${i.source}`),
    '',
  ];
  const names = images.map((i) => i.image);
  const titles: Record<PreloadTarget, string> = {
    minikube: 'minikube (--cluster-name PROFILE for another profile)',
    kind: 'kind (images must be in the local Docker first)',
    k3d: 'k3d',
    'docker-desktop': "Docker Desktop Kubernetes (uses the Docker engine's images)",
  };
  for (const t of targets) lines.push(`# pre-load for ${titles[t]}:`, ...preloadCommands(names, t, clusterName), '');
  lines.push("The kit's pods use imagePullPolicy IfNotPresent, so a pre-loaded image is used as is. See docs/troubleshooting.md#imagepullbackoff.");
  return lines.join('\n');
}

export function imagesScript(loadComponents: () => Promise<readonly Component[]>): ScriptDef {
  return {
    name: 'images',
    summary: [
      "Lists every image the stack pulls (each component's rendered manifests, the Dapr chart's control plane and sidecar,",
      'verify Jobs) and prints the commands that pre-load them into minikube, kind or k3d before a deploy on a slow network.',
      'Needs no cluster. --json puts the list in .data.images; --names prints only the names.',
    ].join('\n'),
    flags: IMAGES_FLAGS,
    footer: 'Exit codes: 0 listed, 1 a component could not be rendered, 2 bad usage.\nTroubleshooting: docs/troubleshooting.md#imagepullbackoff',
    async run(ctx): Promise<RunResult> {
      const started = ctx.clock.now();
      const { images, checks } = await collectImages(ctx, await loadComponents());
      const f = ctx.config.flags;
      const targets = f.for ? [f.for as PreloadTarget] : [...TARGETS];
      const clusterName = f['cluster-name'] === undefined ? undefined : String(f['cluster-name']);
      const ok = checks.every((c) => c.ok);
      for (const c of checks.filter((c) => !c.ok)) ctx.log.fail(`${c.name}: ${c.detail}`);
      ctx.log.info(`${images.length} images`);
      const output = f.names === true ? images.map((i) => i.image).join('\n') : formatImages(images, targets, clusterName);
      return {
        // Only a failure gets a row in the table: a listing is not a run to time.
        steps: ok ? [] : [{ name: 'images', ok, status: 'failed', durationMs: ctx.clock.now() - started, budgetMs: null, checks }],
        budgetMs: null,
        output,
        data: {
          images,
          preload: Object.fromEntries(
            targets.map((t) => [
              t,
              preloadCommands(
                images.map((i) => i.image),
                t,
                clusterName,
              ),
            ]),
          ),
        },
      };
    },
  };
}
