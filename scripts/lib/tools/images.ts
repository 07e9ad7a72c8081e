// scripts/images.mts: every image the stack pulls — from each component's rendered manifests, what a component
// declares besides (a chart's, a verify Job's), and the Dapr chart's control plane and sidecar — and the commands
// that pre-load them into minikube, kind or k3d before a deploy on a slow network; --load runs them; save FILE and
// load FILE carry them, with the Dapr chart, to a machine without network (images/bundle.ts).

import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../run/context.js';
import { COMMON_FLAGS, flagPath, shownPath as shown, YES_FLAG, type KitConfig } from '../core/config.js';
import { EnvironmentError, errorMessage, StepError, UsageError } from '../core/errors.js';
import { booleanFlag, flag, type FlagSpec } from '../core/flags.js';
import { readVersions, type Manifest } from '../kube/manifests.js';
import type { Check } from '../core/report.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { runStep } from '../run/steps.js';
import type { Component } from '../components/types.js';
import { chooseChart, DAPR_CHART_FLAG, NO_SCHEDULER_FLAG, WITH_REDIS_FLAG } from '../components/dapr/settings.js';
import {
  ARCHES,
  chooseTarget,
  CLUSTER_NAME_FLAG,
  dockerFacts,
  ensureTools,
  FOR_FLAG,
  hostArch,
  nodeArch,
  TARGETS,
  type Arch,
  type DockerFacts,
  type ImageStore,
  type PreloadTarget,
} from './images/detect.js';
import { preloadImageCommands, runImageCommands, showCmd, toolsFor, type Cmd, type KindForm } from './images/preload.js';
import {
  IMAGES_TIMEOUT_FLAG,
  loadBundle,
  loadScript,
  planLoad,
  planSave,
  readManifest,
  saveBundle,
  saveScript,
  timeoutOf,
  type BundleManifest,
} from './images/bundle.js';

export { TARGETS, type PreloadTarget } from './images/detect.js';

export interface ImageRef {
  image: string;
  /** kafka, postgres, dapr */
  component: string;
  /** What pulls it: "StatefulSet/postgresql", "Dapr chart: sidecar (daprd)", ... */
  source: string;
}

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

export const IMAGES_FLAGS: readonly FlagSpec[] = [
  FOR_FLAG,
  CLUSTER_NAME_FLAG,
  NAMES_FLAG,
  // Read by the Dapr component's plan(), as install-dapr's flag of the same name.
  { ...WITH_REDIS_FLAG, description: 'also list the optional Redis (install-dapr --with-redis)' },
  { ...NO_SCHEDULER_FLAG, description: 'leave out the Dapr scheduler image (install-dapr --no-scheduler)' },
  LOAD_FLAG,
  ARCH_FLAG,
  {
    ...DAPR_CHART_FLAG,
    description: 'save: put this local chart directory in the bundle (default: the chart install-dapr would use; helm pull when that is the chart repository)',
  },
  IMAGES_TIMEOUT_FLAG,
  // The target guard of the scripts that change a cluster, checked here rather than by the runner: without --for the
  // context only tells which kind of cluster to load into, and with --for it plays no part.
  { ...YES_FLAG, description: '--load and load without --for: go ahead on a context that does not look like a local cluster' },
];

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

/** One entry per image, sources merged, in a stable order (component, in the order given, then name). */
export function dedupe(refs: readonly ImageRef[], order: readonly string[] = [...new Set(refs.map((r) => r.component))]): ImageRef[] {
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
      const plan = await c.plan(ctx);
      const found = [
        ...manifestImages(plan.manifests, c.name),
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
  return {
    images: dedupe(
      refs,
      components.map((c) => c.name),
    ),
    checks,
  };
}

/** How the printed kind commands load: `kind load docker-image` on the classic store, an archive otherwise. */
export interface KindAdvice {
  store: ImageStore | 'unknown';
  arch: Arch;
  /** What docker info said (or why it could not be asked). */
  why: string;
  /** Where the architecture came from, when not from docker info. */
  archWhy?: string;
}

export const KIND_ARCHIVE = (arch: Arch) => `learnflow-images-${arch}.tar`;

/**
 * Official Docker Hub images are referenced by short name ("postgres:17.6"); docker, minikube, kind and k3d accept
 * that as is. Pulled into the host's Docker first: a pull there is faster and resumable, and kind and k3d need it.
 * kind: on Docker's containerd image store (or when it cannot be told) one platform goes through an archive.
 */
export function preloadCommands(images: readonly string[], target: PreloadTarget, clusterName?: string, kind?: KindAdvice): string[] {
  const pull = `for i in ${images.join(' ')}; do docker pull "$i"; done`;
  const all = images.join(' ');
  switch (target) {
    case 'minikube':
      return [pull, `minikube image load ${all}${clusterName ? ` -p ${clusterName}` : ''}`];
    case 'kind': {
      const name = clusterName ?? 'kind';
      if (!kind || kind.store === 'classic') return [pull, `kind load docker-image ${all} --name ${name}`];
      const platform = `linux/${kind.arch}`;
      const file = KIND_ARCHIVE(kind.arch);
      return [
        `for i in ${all}; do docker pull --platform ${platform} "$i"; done`,
        `docker image save --platform ${platform} -o ${file} ${all}`,
        `kind load image-archive ${file} --name ${name}`,
      ];
    }
    case 'k3d':
      return [pull, `k3d image import ${all} -c ${clusterName ?? 'k3s-default'}`];
    case 'docker-desktop':
      // Its Kubernetes uses the Docker engine's own images: a pull is the pre-load.
      return [pull];
  }
}

function kindTitle(kind: KindAdvice | undefined): string {
  if (!kind) return 'kind (images must be in the local Docker first)';
  if (kind.store === 'classic') return "kind (Docker's classic image store: kind load docker-image works)";
  if (kind.store === 'containerd')
    return `kind (Docker's containerd image store: kind load docker-image fails there with "content digest not found", kubernetes-sigs/kind#3795; one platform in an archive works)`;
  return 'kind (the archive form: it works with either image store, on Docker 28 or newer)';
}

function kindNotes(kind: KindAdvice | undefined): string[] {
  if (!kind) return [];
  return [
    `#   ${kind.store === 'unknown' ? `Docker's image store is unknown: ${kind.why}` : kind.why}`,
    ...(kind.archWhy ? [`#   linux/${kind.arch}: ${kind.archWhy}`] : []),
  ];
}

export function formatImages(images: readonly ImageRef[], targets: readonly PreloadTarget[], clusterName?: string, kind?: KindAdvice): string {
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
    kind: kindTitle(kind),
    k3d: 'k3d',
    // Docker Desktop 4.38+ can also provision the cluster with kind, whose nodes keep their own images: a pull does
    // not reach them (docs/operations.md, "Docker Desktop's two provisioners").
    'docker-desktop': "Docker Desktop Kubernetes, Kubeadm provisioner (uses the Docker engine's images; the kind provisioner's nodes do not)",
  };
  for (const t of targets)
    lines.push(
      `# pre-load for ${titles[t]}:`,
      ...(t === 'kind' ? kindNotes(kind) : []),
      ...preloadCommands(names, t, clusterName, t === 'kind' ? kind : undefined),
      '',
    );
  lines.push(
    "The kit's pods use imagePullPolicy IfNotPresent, so a pre-loaded image is used as is. --load runs these commands for one cluster;",
    'save FILE / load FILE carry every image and the Dapr chart to a machine without network. See docs/operations.md#offline-bundle.',
  );
  return lines.join('\n');
}

/**
 * The architecture images are loaded for: the nodes' (kubectl), else for kind, k3d and Docker Desktop, whose nodes
 * run on the local Docker engine, the engine's.
 */
async function clusterArch(ctx: Ctx, target: PreloadTarget, docker?: DockerFacts): Promise<{ arch?: Arch; why: string }> {
  const nodes = await nodeArch(ctx);
  if (nodes.arch) return { arch: nodes.arch, why: nodes.why };
  if (target !== 'minikube') {
    const facts = docker ?? (await dockerFacts(ctx));
    if (facts.ok && facts.arch) return { arch: facts.arch, why: `the Docker engine its nodes run on is ${facts.arch} (${nodes.why})` };
  }
  return { why: nodes.why };
}

/** The kind commands of the listing, from what docker info (and, without Docker, the cluster) says. */
async function kindAdvice(ctx: Ctx): Promise<KindAdvice> {
  const facts = await dockerFacts(ctx);
  if (facts.ok && facts.arch) return { store: facts.store, arch: facts.arch, why: facts.why };
  const nodes = await nodeArch(ctx);
  const arch = nodes.arch ?? hostArch() ?? 'amd64';
  const archWhy = nodes.arch ? nodes.why : `this machine's (${nodes.why})`;
  return { store: facts.ok ? facts.store : 'unknown', arch, why: facts.why, archWhy };
}

export interface ImagesArgs {
  /** save | load; none: list (or --load). */
  command?: string;
  file?: string;
}

/** argv -> the command (save | load), FILE and the flags, wherever the flags stand. */
export function splitImagesArgs(argv: readonly string[]): ImagesArgs & { rest: string[] } {
  const specs = [...COMMON_FLAGS, ...IMAGES_FLAGS];
  const valued = new Set(['-o', '--output']);
  for (const f of specs.filter((s) => s.kind !== 'boolean')) for (const n of [f.name, ...(f.aliases ?? [])]) valued.add(`--${n}`);
  for (const f of specs.filter((s) => s.kind !== 'boolean' && s.short)) valued.add(`-${f.short}`);
  const rest: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      rest.push(a);
      if (valued.has(a) && i + 1 < argv.length) rest.push(argv[++i]!);
    } else if (positionals.length < 2) positionals.push(a);
    else rest.push(a);
  }
  return { command: positionals[0], file: positionals[1], rest };
}

const MODES = ['save', 'load'];

/** Bad combinations and files: exit 2 naming the flag or FILE, before anything runs. */
export function checkImagesUsage(config: KitConfig, args: ImagesArgs): void {
  const o = config.options;
  const { command, file } = args;
  if (command !== undefined && !MODES.includes(command))
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

async function listImages(ctx: Ctx, loadComponents: () => Promise<readonly Component[]>): Promise<RunResult> {
  const started = ctx.clock.now();
  const { images, checks } = await collectImages(ctx, await loadComponents());
  const o = ctx.config.options;
  const chosen = o.get(FOR_FLAG) as PreloadTarget | undefined;
  const targets = chosen ? [chosen] : [...TARGETS];
  const clusterName = o.get(CLUSTER_NAME_FLAG);
  const ok = checks.every((c) => c.ok);
  for (const c of checks.filter((c) => !c.ok)) ctx.log.fail(`${c.name}: ${c.detail}`);
  ctx.log.info(`${images.length} images`);
  const names = images.map((i) => i.image);
  const kind = !o.on(NAMES_FLAG) && targets.includes('kind') ? await kindAdvice(ctx) : undefined;
  const output = o.on(NAMES_FLAG) ? names.join('\n') : formatImages(images, targets, clusterName, kind);
  return {
    // Only a failure gets a row in the table: a listing is not a run to time.
    steps: ok ? [] : [{ name: 'images', ok, status: 'failed', durationMs: ctx.clock.now() - started, budgetMs: null, checks }],
    budgetMs: null,
    output,
    data: {
      images,
      preload: Object.fromEntries(targets.map((t) => [t, preloadCommands(names, t, clusterName, t === 'kind' ? kind : undefined)])),
      ...(kind ? { kind } : {}),
    },
  };
}

/** The image names, or exit 1 when a component cannot be rendered (a bundle or a pre-load without it is not the stack). */
async function imageNames(ctx: Ctx, loadComponents: () => Promise<readonly Component[]>): Promise<string[]> {
  const { images, checks } = await collectImages(ctx, await loadComponents());
  const bad = checks.filter((c) => !c.ok);
  if (bad.length)
    throw new StepError(`cannot tell every image: ${bad.map((c) => `${c.name} ${c.detail}`).join('; ')}`, { fix: 'fix the manifests it names, then re-run' });
  return images.map((i) => i.image);
}

const dryRunResult = (lines: string[], data: Record<string, unknown>): RunResult => ({
  steps: [],
  budgetMs: null,
  output: ['# dry run: nothing was pulled, saved or loaded; the commands:', ...lines].join('\n'),
  data: { ...data, commands: lines },
});

async function preload(ctx: Ctx, loadComponents: () => Promise<readonly Component[]>): Promise<RunResult> {
  const names = await imageNames(ctx, loadComponents);
  const target = await chooseTarget(ctx);
  const dry = ctx.config.dryRun;
  if (!dry) await ensureTools(ctx, toolsFor(target.kind), `--load into ${target.describe}`);
  let kindForm: KindForm | undefined;
  if (target.kind === 'kind') {
    const facts = await dockerFacts(ctx);
    if (facts.ok) ctx.log.info(facts.why);
    else ctx.log.warn(`${facts.why}: the archive form works with either image store`);
    const arch = await clusterArch(ctx, 'kind', facts);
    const platform = arch.arch ?? hostArch() ?? 'amd64';
    if (!arch.arch) ctx.log.warn(`cannot tell the nodes' architecture (${arch.why}): saving for linux/${platform}, this machine's`);
    kindForm = { store: facts.ok ? facts.store : 'containerd', arch: platform };
    if (kindForm.store === 'containerd')
      ctx.log.info(`containerd image store: each image goes through an archive of linux/${platform} (kind load image-archive)`);
  }
  const dir = path.join(ctx.outDir, `preload-${ctx.clock.now()}`);
  const commands = (i: number, image: string): Cmd[] => preloadImageCommands(image, target, kindForm, path.join(dir, `${String(i + 1).padStart(2, '0')}.tar`));
  ctx.log.info(`pre-loading ${names.length} images into ${target.describe}`);
  if (dry)
    return dryRunResult(
      names.flatMap((image, i) =>
        commands(i, image).map((c) => `${showCmd(c)}${c.unlessPresent ? '   # unless the image is already in the local Docker' : ''}`),
      ),
      { target: target.describe },
    );
  const step = await runStep(ctx, {
    name: 'pre-load',
    budgetMs: null,
    run: async (s) => {
      s.cleanup.defer('the pre-load archives', () => rmSync(dir, { recursive: true, force: true }));
      for (const [i, image] of names.entries()) {
        s.log.info(`[${i + 1}/${names.length}] ${image}`);
        const cmds = commands(i, image);
        if (cmds.some((c) => c.does === 'save')) mkdirSync(dir, { recursive: true });
        await runImageCommands(s, image, cmds, timeoutOf(s), target);
        rmSync(path.join(dir, `${String(i + 1).padStart(2, '0')}.tar`), { force: true });
        s.change(image, 'loaded');
      }
      s.check('pre-load', true, `${names.length} images in ${target.describe}`);
    },
  });
  return { steps: [step], budgetMs: null, data: { target: target.describe, images: names } };
}

async function save(ctx: Ctx, file: string, loadComponents: () => Promise<readonly Component[]>): Promise<RunResult> {
  let arch = ctx.config.options.get(ARCH_FLAG) as Arch | undefined;
  if (arch) ctx.log.info(`saving for linux/${arch} (--arch)`);
  else {
    const nodes = await nodeArch(ctx);
    arch = nodes.arch ?? hostArch();
    if (!arch) throw new UsageError(`--arch is needed: ${nodes.why}, and this machine is ${process.arch}`, { fix: 'pass --arch amd64 or --arch arm64' });
    ctx.log.info(`saving for linux/${arch} (${nodes.arch ? nodes.why : `this machine's; ${nodes.why}`}); --arch for another`);
  }
  const names = await imageNames(ctx, loadComponents);
  const version = readVersions().dapr.version;
  const chart = chooseChart(version, flagPath(ctx.config, DAPR_CHART_FLAG, ctx.root), ctx.root);
  const plan = planSave(file, arch, names, chart);
  if (ctx.config.dryRun) return dryRunResult(saveScript(plan), { bundle: { file: shown(file), arch, images: names, chart: chart.describe } });
  await ensureTools(ctx, ['docker', 'tar', ...(chart.ref.kind === 'repo' ? ['helm'] : [])], 'save', {
    helm: 'pass --dapr-chart DIR with a copy of the chart (helm pull dapr --untar, where helm and the network are)',
  });
  let manifest: BundleManifest | undefined;
  const step = await runStep(ctx, {
    name: 'save',
    budgetMs: null,
    run: async (s) => {
      manifest = await saveBundle(s, plan);
    },
  });
  return {
    steps: [step],
    budgetMs: null,
    ...(step.ok ? { artifacts: { bundle: shown(file) } } : {}),
    data: { bundle: manifest ? { file: shown(file), ...manifest } : undefined },
  };
}

async function load(ctx: Ctx, file: string, loadComponents: () => Promise<readonly Component[]>): Promise<RunResult> {
  const manifest = await readManifest(ctx, file);
  const target = await chooseTarget(ctx);
  const nodes = await clusterArch(ctx, target.kind);
  if (nodes.arch && nodes.arch !== manifest.arch)
    throw new UsageError(`FILE ${shown(file)} holds linux/${manifest.arch} images; ${nodes.why}`, {
      fix: `on a machine with network: ./scripts/images.mts save learnflow-images-${nodes.arch}.tar --arch ${nodes.arch}`,
    });
  if (!nodes.arch) {
    if (!ctx.config.dryRun)
      throw new EnvironmentError(`cannot tell the architecture of the cluster's nodes: ${nodes.why}`, {
        fix: 'start the cluster (or pick it with --context) and re-run',
        docs: 'cluster-unreachable',
      });
    ctx.log.warn(`cannot tell the architecture of the cluster's nodes (${nodes.why}); the bundle is linux/${manifest.arch}`);
  } else ctx.log.info(`the bundle is linux/${manifest.arch}, like the nodes (${nodes.why})`);
  const expected = await imageNames(ctx, loadComponents).catch(() => [] as string[]);
  const lacking = expected.filter((i) => !manifest.images.some((m) => m.image === i));
  if (lacking.length)
    ctx.log.warn(
      `the bundle (kit ${manifest.kitVersion}) lacks ${lacking.join(', ')}: the cluster will pull ${lacking.length > 1 ? 'them' : 'it'} at deploy time`,
    );
  const plan = planLoad(ctx.root, file, manifest, target, ctx.clock.now());
  if (ctx.config.dryRun) return dryRunResult(loadScript(plan), { bundle: { file: shown(file), arch: manifest.arch, target: target.describe } });
  await ensureTools(ctx, toolsFor(target.kind), `load into ${target.describe}`);
  const step = await runStep(ctx, { name: 'load', budgetMs: null, run: (s) => loadBundle(s, plan) });
  return {
    steps: [step],
    budgetMs: null,
    data: {
      bundle: { file: shown(file), arch: manifest.arch, target: target.describe, images: manifest.images.map((i) => i.image), chartDir: shown(plan.chartDest) },
    },
  };
}

export function imagesScript(loadComponents: () => Promise<readonly Component[]>, args: ImagesArgs = {}): ScriptDef {
  return {
    name: 'images',
    usage: 'images.mts [save FILE | load FILE] [flags]',
    summary: [
      "Lists every image the stack pulls (each component's rendered manifests, the Dapr chart's control plane and sidecar,",
      'verify Jobs) and prints the commands that pre-load them into minikube, kind or k3d before a deploy on a slow network',
      "(for kind, the form that works with the local Docker's image store). Needs no cluster. --json puts the list in",
      '.data.images; --names prints only the names.',
      '--load: pulls every image and loads it into the cluster (--for, or the kind of cluster the current context names).',
      'save FILE: one tar of every image for one architecture (--arch) and the pinned Dapr chart, for a machine without network.',
      'load FILE: pre-loads a bundle into the cluster and unpacks its chart, which install-dapr then uses.',
    ].join('\n'),
    flags: IMAGES_FLAGS,
    footer: [
      "Exit codes: 0 listed, saved or loaded, 1 a component could not be rendered or a pull, save or load failed, 2 bad usage (FILE missing or not a bundle, an architecture that is not the nodes'), 3 environment not ready (docker, kind, minikube, k3d, helm or tar missing, Docker not running, no cluster).",
      'Troubleshooting: docs/troubleshooting.md#imagepullbackoff; guide: docs/operations.md#offline-bundle',
    ].join('\n'),
    checkUsage: (config) => checkImagesUsage(config, args),
    async run(ctx): Promise<RunResult> {
      const file = args.file === undefined ? undefined : path.resolve(process.cwd(), args.file);
      if (args.command === 'save') return save(ctx, file!, loadComponents);
      if (args.command === 'load') return load(ctx, file!, loadComponents);
      if (ctx.config.options.on(LOAD_FLAG)) return preload(ctx, loadComponents);
      return listImages(ctx, loadComponents);
    },
  };
}
