// scripts/images.mts: every image the stack pulls (the components' rendered manifests, plus their images() hook: the
// Dapr chart's, a verify Job's) and the commands that pre-load them into a cluster, which --load runs
// (images/target.ts); save FILE / load FILE carry them with the Dapr chart to a machine without network (bundle.ts).

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../run/context.js';
import { flagPath, shownPath as shown, YES_FLAG, type KitConfig } from '../core/config.js';
import { errorMessage, StepError, UsageError } from '../core/errors.js';
import { booleanFlag, flag, type FlagSpec } from '../core/flags.js';
import { type Manifest } from '../kube/manifests.js';
import { readVersions } from '../core/repo.js';
import { columns, type Check } from '../core/report.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import type { Component, ImageUse } from '../components/types.js';
import { chooseChart, DAPR_CHART_FLAG } from '../components/dapr/settings.js';
import { loadBundle, readManifest, saveBundle } from './images/bundle.js';
import {
  ARCHES,
  chooseTarget,
  kindAdvice,
  preloadCommands,
  preloadImages,
  hostArch,
  nodeArch,
  TARGETS,
  type Arch,
  type KindAdvice,
  type PreloadTarget,
} from './images/target.js';

/** An image, what pulls it ("StatefulSet/postgresql", "Dapr chart: dapr-operator") and its component. */
export type ImageRef = ImageUse & { component: string };

const FOR_FLAG = flag({
  name: 'for',
  kind: 'string',
  valueName: 'CLUSTER',
  choices: TARGETS,
  description:
    'the kind of cluster: print its pre-load commands only (default: all); what --load and load load into (default: the one the current context names)',
});
const CLUSTER_NAME_FLAG = flag({
  name: 'cluster-name',
  kind: 'string',
  valueName: 'NAME',
  description: 'kind / k3d cluster name, minikube profile (default: from the context kind-NAME / k3d-NAME, else kind, k3s-default)',
});
const NAMES_FLAG = booleanFlag('names', 'print only the image names, one per line (for xargs)');
const LOAD_FLAG = booleanFlag(
  'load',
  'pull every image and load it into the cluster (minikube image load, kind load, k3d image import); kind on the containerd image store through an archive',
);
const ARCH_FLAG = flag({
  name: 'arch',
  kind: 'string',
  valueName: 'ARCH',
  choices: ARCHES,
  description: "save: the architecture to save the images for (default: the cluster's nodes, else this machine's)",
});
const TIMEOUT_FLAG = flag({
  name: 'timeout',
  kind: 'duration',
  valueName: 'DURATION',
  default: 30 * 60_000,
  description: 'give up on one pull, save or load after this long',
});

/** The tool's flags, with the components' own that change the list (Component.imageFlags). */
export const imagesFlags = (components: readonly Component[]): FlagSpec[] => [
  FOR_FLAG,
  CLUSTER_NAME_FLAG,
  NAMES_FLAG,
  ...components.flatMap((c) => c.imageFlags ?? []),
  LOAD_FLAG,
  ARCH_FLAG,
  {
    ...DAPR_CHART_FLAG,
    description: 'save: put this local chart directory in the bundle (default: the chart install-dapr would use; helm pull when that is the chart repository)',
  },
  TIMEOUT_FLAG,
  // The target guard of the scripts that change a cluster, checked here rather than by the runner: without --for the
  // context only tells which kind of cluster to load into, and with --for it plays no part.
  { ...YES_FLAG, description: '--load and load without --for: go ahead on a context that does not look like a local cluster' },
];

/** Every container image in the manifests (pod templates at any depth: Deployments, StatefulSets, Jobs, CronJobs, Pods). */
export function manifestImages(manifests: readonly Manifest[], component: string): ImageRef[] {
  const out: ImageRef[] = [];
  const walk = (node: unknown, owner: string): void => {
    if (!node || typeof node !== 'object') return;
    const spec = node as Record<string, unknown>;
    for (const key of ['initContainers', 'containers'])
      for (const c of Array.isArray(spec[key]) ? (spec[key] as { name?: string; image?: unknown }[]) : [])
        if (typeof c?.image === 'string')
          out.push({ image: c.image, component, source: key === 'containers' ? owner : `${owner} (init${c.name ? ` ${c.name}` : ''})` });
    for (const [k, v] of Object.entries(spec)) if (k !== 'containers' && k !== 'initContainers') walk(v, owner);
  };
  for (const m of manifests) walk(m, `${m.kind}/${m.metadata.name}`);
  return out;
}

/** One entry per image, sources merged, in a stable order (component, in the order given, then name). */
export function dedupe(refs: readonly ImageRef[], order: readonly string[]): ImageRef[] {
  const by = new Map<string, ImageRef>();
  for (const r of refs) {
    const seen = by.get(r.image);
    if (!seen) by.set(r.image, { ...r });
    else if (!seen.source.split('; ').includes(r.source)) seen.source += `; ${r.source}`;
  }
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length);
  return [...by.values()].sort((a, b) => rank(a.component) - rank(b.component) || a.image.localeCompare(b.image));
}

export async function collectImages(ctx: Ctx, components: readonly Component[]): Promise<{ images: ImageRef[]; checks: Check[] }> {
  const refs: ImageRef[] = [];
  const checks: Check[] = [];
  for (const c of components) {
    try {
      const found = [
        ...manifestImages((await c.plan(ctx)).manifests, c.name),
        ...(c.images?.(ctx) ?? []).map((i) =>
          typeof i === 'string' ? { image: i, component: c.name, source: `${c.title} (not in its manifests)` } : { ...i, component: c.name },
        ),
      ];
      refs.push(...found);
      checks.push({ name: c.name, ok: true, detail: `${new Set(found.map((f) => f.image)).size} image(s)` });
    } catch (err) {
      checks.push({ name: c.name, ok: false, detail: `could not render its manifests: ${errorMessage(err)}` });
    }
  }
  const order = components.map((c) => c.name);
  return { images: dedupe(refs, order), checks };
}

/** The image names, or exit 1 when a component cannot be rendered (a bundle or a pre-load without it is not the stack). */
async function imageNames(ctx: Ctx, components: readonly Component[]): Promise<string[]> {
  const { images, checks } = await collectImages(ctx, components);
  const bad = checks.filter((c) => !c.ok);
  if (bad.length)
    throw new StepError(`cannot tell every image: ${bad.map((c) => `${c.name} ${c.detail}`).join('; ')}`, { fix: 'fix the manifests it names, then re-run' });
  return images.map((i) => i.image);
}

const TITLES: Record<Exclude<PreloadTarget, 'kind'>, string> = {
  minikube: 'minikube (--cluster-name PROFILE for another profile)',
  k3d: 'k3d',
  // Docker Desktop 4.38+ can also provision the cluster with kind, whose nodes keep their own images: a pull does
  // not reach them (docs/operations.md, "Docker Desktop's two provisioners").
  'docker-desktop': "Docker Desktop Kubernetes, Kubeadm provisioner (uses the Docker engine's images; the kind provisioner's nodes do not)",
};

const KIND_TITLES: Record<KindAdvice['store'], string> = {
  classic: "kind (Docker's classic image store: kind load docker-image works)",
  containerd: `kind (Docker's containerd image store: kind load docker-image fails there with "content digest not found", kubernetes-sigs/kind#3795; one platform in an archive works)`,
  unknown: 'kind (the archive form: it works with either image store, on Docker 28 or newer)',
};

export function formatImages(images: readonly ImageRef[], preload: Partial<Record<PreloadTarget, string[]>>, kind?: KindAdvice): string {
  const lines = [columns([['image', 'component', 'pulled by'], ...images.map((i) => [i.image, i.component, i.source])]), ''];
  for (const [t, commands] of Object.entries(preload) as [PreloadTarget, string[]][]) {
    const notes =
      t === 'kind' && kind
        ? [
            `#   ${kind.store === 'unknown' ? `Docker's image store is unknown: ${kind.why}` : kind.why}`,
            ...(kind.archWhy ? [`#   linux/${kind.arch}: ${kind.archWhy}`] : []),
          ]
        : [];
    lines.push(`# pre-load for ${t === 'kind' ? KIND_TITLES[kind!.store] : TITLES[t]}:`, ...notes, ...commands, '');
  }
  lines.push(
    "The kit's pods use imagePullPolicy IfNotPresent, so a pre-loaded image is used as is. --load runs these commands for one cluster;",
    'save FILE / load FILE carry every image and the Dapr chart to a machine without network. See docs/operations.md#offline-bundle.',
  );
  return lines.join('\n');
}

async function listImages(ctx: Ctx, components: readonly Component[]): Promise<RunResult> {
  const started = ctx.clock.now();
  const { images, checks } = await collectImages(ctx, components);
  const o = ctx.config.options;
  for (const c of checks.filter((c) => !c.ok)) ctx.log.fail(`${c.name}: ${c.detail}`);
  ctx.log.info(`${images.length} images`);
  const names = images.map((i) => i.image);
  const chosen = o.get(FOR_FLAG) as PreloadTarget | undefined;
  const targets = chosen ? [chosen] : [...TARGETS];
  const kind = !o.on(NAMES_FLAG) && targets.includes('kind') ? await kindAdvice(ctx) : undefined;
  const preload = Object.fromEntries(
    targets.map((t) => [t, preloadCommands(names, t, o.get(CLUSTER_NAME_FLAG), t === 'kind' && kind?.store !== 'classic' ? kind?.arch : undefined)]),
  );
  const ok = checks.every((c) => c.ok);
  return {
    // Only a failure gets a row in the table: a listing is not a run to time.
    steps: ok ? [] : [{ name: 'images', ok, status: 'failed', durationMs: ctx.clock.now() - started, budgetMs: null, checks }],
    budgetMs: null,
    output: o.on(NAMES_FLAG) ? names.join('\n') : formatImages(images, preload, kind),
    data: { images, preload, ...(kind ? { kind } : {}) },
  };
}

async function save(ctx: Ctx, file: string, components: readonly Component[]): Promise<RunResult> {
  const o = ctx.config.options;
  let arch = o.get(ARCH_FLAG) as Arch | undefined;
  if (arch) ctx.log.info(`saving for linux/${arch} (--arch)`);
  else {
    const nodes = await nodeArch(ctx);
    arch = nodes.arch ?? hostArch();
    if (!arch) throw new UsageError(`--arch is needed: ${nodes.why}, and this machine is ${process.arch}`, { fix: 'pass --arch amd64 or --arch arm64' });
    ctx.log.info(`saving for linux/${arch} (${nodes.arch ? nodes.why : `this machine's; ${nodes.why}`}); --arch for another`);
  }
  const chart = chooseChart(readVersions().dapr.version, flagPath(ctx.config, DAPR_CHART_FLAG, ctx.root), ctx.root);
  return saveBundle(ctx, file, arch, await imageNames(ctx, components), chart, o.get(TIMEOUT_FLAG)!);
}

async function load(ctx: Ctx, file: string, components: readonly Component[]): Promise<RunResult> {
  const o = ctx.config.options;
  const manifest = await readManifest(ctx, file);
  const target = await chooseTarget(ctx, o.get(FOR_FLAG) as PreloadTarget | undefined, o.get(CLUSTER_NAME_FLAG), o.on(YES_FLAG));
  // What the kit would pull now, to warn of what an older bundle lacks; a component that cannot render warns of nothing.
  const expected = await imageNames(ctx, components).catch(() => []);
  return loadBundle(ctx, file, manifest, target, expected, o.get(TIMEOUT_FLAG)!);
}

/** Bad combinations and files: exit 2 naming the flag or FILE, before anything runs. */
export function checkImagesUsage(config: KitConfig): void {
  const o = config.options;
  const [command, file] = config.args;
  if (command !== undefined && command !== 'save' && command !== 'load')
    throw new UsageError(`unknown command '${command}': say save FILE or load FILE, or nothing to list the images`, { fix: './scripts/images.mts --help' });
  if (command && !file)
    throw new UsageError(`${command} needs FILE: ${command === 'save' ? 'where to write the bundle' : 'the bundle save wrote'}`, {
      fix: command === 'save' ? './scripts/images.mts save learnflow-images.tar --arch arm64' : './scripts/images.mts load learnflow-images.tar',
    });
  if (o.on(LOAD_FLAG) && command)
    throw new UsageError(`--load and ${command} contradict each other: ${command} FILE works from a bundle`, { fix: 'drop one of them' });
  if (o.on(NAMES_FLAG) && (command || o.on(LOAD_FLAG)))
    throw new UsageError(`--names only lists the names: it does not go with ${command ?? '--load'}`, { fix: 'drop --names' });
  if (o.given(ARCH_FLAG) && command !== 'save')
    throw new UsageError('--arch is for save: load takes the architecture from the bundle, --load from the cluster', { fix: 'drop --arch' });
  if (o.given(FOR_FLAG) && command === 'save') throw new UsageError('--for is for --load and load: a bundle fits every kind of cluster', { fix: 'drop --for' });
  if (!file) return;
  const abs = path.resolve(process.cwd(), file);
  if (command === 'save' && existsSync(abs))
    throw new UsageError(`FILE ${shown(abs)} already exists; save never overwrites a file`, { fix: 'pick another FILE, or remove the old one first' });
  if (command === 'load' && !existsSync(abs))
    throw new UsageError(`FILE ${shown(abs)} does not exist`, { fix: 'give the bundle ./scripts/images.mts save wrote' });
  if (command === 'load' && statSync(abs).isDirectory())
    throw new UsageError(`FILE ${shown(abs)} is a folder, not a bundle`, { fix: 'give the bundle file itself' });
}

export function imagesScript(components: readonly Component[]): ScriptDef {
  return {
    name: 'images',
    usage: 'images.mts [save FILE | load FILE] [flags]',
    maxArgs: 2,
    summary: [
      "Lists every image the stack pulls (each component's rendered manifests, the Dapr chart's control plane and sidecar,",
      'verify Jobs) and prints the commands that pre-load them into minikube, kind or k3d before a deploy on a slow network',
      "(for kind, the form that works with the local Docker's image store). Needs no cluster. --json puts the list in",
      '.data.images; --names prints only the names.',
      '--load: pulls every image and loads it into the cluster (--for, or the kind of cluster the current context names).',
      'save FILE: one tar of every image for one architecture (--arch) and the pinned Dapr chart, for a machine without network.',
      'load FILE: pre-loads a bundle into the cluster and unpacks its chart, which install-dapr then uses.',
    ].join('\n'),
    flags: imagesFlags(components),
    footer: [
      "Exit codes: 0 listed, saved or loaded, 1 a component could not be rendered or a pull, save or load failed, 2 bad usage (FILE missing or not a bundle, an architecture that is not the nodes'), 3 environment not ready (docker, kind, minikube, k3d, helm or tar missing, Docker not running, no cluster).",
      'Troubleshooting: docs/troubleshooting.md#imagepullbackoff; guide: docs/operations.md#offline-bundle',
    ].join('\n'),
    checkUsage: checkImagesUsage,
    async run(ctx): Promise<RunResult> {
      const [command, file] = ctx.config.args;
      if (command === 'save') return save(ctx, path.resolve(process.cwd(), file!), components);
      if (command === 'load') return load(ctx, path.resolve(process.cwd(), file!), components);
      const o = ctx.config.options;
      if (!o.on(LOAD_FLAG)) return listImages(ctx, components);
      const names = await imageNames(ctx, components);
      const target = await chooseTarget(ctx, o.get(FOR_FLAG) as PreloadTarget | undefined, o.get(CLUSTER_NAME_FLAG), o.on(YES_FLAG));
      return preloadImages(ctx, names, target, o.get(TIMEOUT_FLAG)!);
    },
  };
}
