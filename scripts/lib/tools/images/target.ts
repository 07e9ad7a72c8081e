// Where scripts/images.mts puts images: the kind of cluster (--for or the kubeconfig context), the architecture of
// its nodes, the local Docker's image store, the tools each kind needs, the commands that load into it (the listing
// prints them, --load runs them) and the one runner of such commands (a failure names its image).

import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Ctx, StepCtx } from '../../run/context.js';
import type { RunResult } from '../../run/script.js';
import { runStep } from '../../run/steps.js';
import { CommandError, EnvironmentError, StepError, UsageError, errorMessage } from '../../core/errors.js';
import { formatCommand, tail } from '../../core/exec.js';
import { clusterFlavour } from '../../preflight/capacity.js';
import { ensureTargetContext } from '../../preflight/checks.js';

export const TARGETS = ['minikube', 'kind', 'k3d', 'docker-desktop'] as const;
export type PreloadTarget = (typeof TARGETS)[number];
export const ARCHES = ['amd64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

/** amd64 / arm64 from what kubectl (amd64), docker info (x86_64, aarch64) or node (x64) call it. */
export function toArch(name: string | undefined): Arch | undefined {
  const n = (name ?? '').trim().toLowerCase();
  if (['amd64', 'x86_64', 'x64'].includes(n)) return 'amd64';
  return n === 'arm64' || n === 'aarch64' ? 'arm64' : undefined;
}

export const hostArch = (): Arch | undefined => toArch(process.arch);

const lastLine = (text: string) => tail(text, 1).trim();

/** A failed command's last line of stderr, else what the error says. */
export function explain(err: unknown): string {
  return err instanceof CommandError ? lastLine(err.stderrTail) || err.message.split('\n')[0]! : errorMessage(err);
}

/**
 * Docker's image store. "containerd": the containerd image store (the default of Docker Desktop and of Docker
 * Engine 29), where `kind load docker-image` fails with "content digest not found" (kubernetes-sigs/kind#3795,
 * #4224) and `docker image save --platform` + `kind load image-archive` works (kind#4247). "classic": the graph
 * drivers (overlay2 and the like), where `kind load docker-image` works.
 */
export type ImageStore = 'containerd' | 'classic';

export type DockerFacts = { ok: true; store: ImageStore; arch?: Arch; why: string } | { ok: false; why: string };

/**
 * `docker info --format '{{json .}}'`. The engine on the containerd store reports DriverStatus
 * [["driver-type", "io.containerd.snapshotter.v1"]] (moby/moby#43983, LayerStoreStatus); buildpacks/imgutil#231
 * relies on that rather than on the driver's name, which is the snapshotter's and can be changed ("stargz" on
 * Docker Desktop, "overlayfs" on Docker Engine 29). The two names that are only ever snapshotters back it up.
 */
export function parseDockerInfo(stdout: string): DockerFacts {
  let info: { Driver?: string; DriverStatus?: [string, string][] | null; Architecture?: string; ServerErrors?: string[] };
  try {
    info = JSON.parse(stdout) as typeof info;
  } catch {
    return { ok: false, why: 'docker info did not print JSON' };
  }
  if (info.ServerErrors?.length) return { ok: false, why: `the Docker engine is not answering: ${info.ServerErrors[0]}` };
  const driver = info.Driver || '?';
  const snapshotter = (info.DriverStatus ?? []).some(([k, v]) => k === 'driver-type' && v === 'io.containerd.snapshotter.v1');
  const containerd = snapshotter || driver === 'overlayfs' || driver === 'stargz';
  return {
    ok: true,
    store: containerd ? 'containerd' : 'classic',
    arch: toArch(info.Architecture),
    why: containerd
      ? `docker info: storage driver ${driver}${snapshotter ? ', driver-type io.containerd.snapshotter.v1' : ''}: the containerd image store`
      : `docker info: storage driver ${driver}: the classic image store`,
  };
}

/** Never throws for a missing or stopped Docker: the caller decides what that means. */
export async function dockerFacts(ctx: Ctx): Promise<DockerFacts> {
  try {
    const r = await ctx.exec('docker', ['info', '--format', '{{json .}}'], { quiet: true, allowFailure: true, timeoutMs: 20_000 });
    const facts = parseDockerInfo(r.stdout);
    if (r.exitCode === 0) return facts;
    // A stopped engine: the client still prints its JSON, with the engine's error in ServerErrors.
    const server = !facts.ok && facts.why.startsWith('the Docker engine') ? facts.why : undefined;
    return { ok: false, why: server ?? `docker info failed: ${lastLine(r.stderr) || `exit code ${r.exitCode}`}` };
  } catch (err) {
    if (err instanceof EnvironmentError) return { ok: false, why: 'docker is not installed or not on PATH' };
    if (err instanceof CommandError) return { ok: false, why: `docker info failed: ${explain(err)}` };
    throw err;
  }
}

/** The architecture of every node of the current (or --context) cluster; undefined with why when it cannot tell. */
export async function nodeArch(ctx: Ctx): Promise<{ arch?: Arch; why: string }> {
  if (ctx.config.noCluster) return { why: '--no-cluster' };
  try {
    const r = await ctx.kube.run(['get', 'nodes', '-o', 'jsonpath={.items[*].status.nodeInfo.architecture}', '--request-timeout=5s'], {
      quiet: true,
      allowFailure: true,
      timeoutMs: 8_000,
    });
    const all = r.stdout.split(/\s+/).filter(Boolean);
    if (r.exitCode !== 0 || all.length === 0) return { why: `no cluster answered: ${lastLine(r.stderr) || 'kubectl get nodes found no nodes'}` };
    const arches = new Set(all.map(toArch));
    if (arches.size > 1) return { why: `the nodes differ in architecture (${all.join(', ')})` };
    const arch = [...arches][0];
    return arch ? { arch, why: `the cluster's nodes are ${arch}` } : { why: `the nodes' architecture ${all[0]} is neither amd64 nor arm64` };
  } catch (err) {
    if (err instanceof EnvironmentError) return { why: 'kubectl is not installed' };
    throw err;
  }
}

/**
 * The architecture images are loaded for: the nodes' (kubectl), else for kind, k3d and Docker Desktop, whose nodes
 * run on the local Docker engine, the engine's.
 */
export async function clusterArch(ctx: Ctx, target: PreloadTarget): Promise<{ arch?: Arch; why: string }> {
  const nodes = await nodeArch(ctx);
  if (nodes.arch || target === 'minikube') return nodes;
  const facts = await dockerFacts(ctx);
  return facts.ok && facts.arch ? { arch: facts.arch, why: `the Docker engine its nodes run on is ${facts.arch} (${nodes.why})` } : nodes;
}

/** How images go into kind: `kind load docker-image` on the classic store, one platform in an archive otherwise. */
export interface KindAdvice {
  store: ImageStore | 'unknown';
  arch: Arch;
  /** What docker info said (or why it could not be asked). */
  why: string;
  /** Where the architecture came from, when not from docker info. */
  archWhy?: string;
}

/**
 * From what docker info says, which needs no cluster: kind's nodes run on that engine. Without an answer from
 * Docker, the architecture of the cluster's nodes, else this machine's.
 */
export async function kindAdvice(ctx: Ctx): Promise<KindAdvice> {
  const facts = await dockerFacts(ctx);
  if (facts.ok && facts.arch) return { store: facts.store, arch: facts.arch, why: facts.why };
  const nodes = await nodeArch(ctx);
  const archWhy = nodes.arch ? nodes.why : `this machine's (${nodes.why})`;
  return { store: facts.ok ? facts.store : 'unknown', arch: nodes.arch ?? hostArch() ?? 'amd64', why: facts.why, archWhy };
}

export interface Target {
  kind: PreloadTarget;
  /** kind / k3d cluster name; minikube profile (only when --cluster-name gives one). */
  cluster?: string;
  /** For messages: "kind cluster learnflow (context kind-learnflow)". */
  describe: string;
}

const DEFAULT_CLUSTER: Partial<Record<PreloadTarget, string>> = { kind: 'kind', k3d: 'k3s-default' };

/** A target of the given kind, by name (--cluster-name) or the kind's default cluster. */
export function targetOf(kind: PreloadTarget, name?: string, context?: string): Target {
  const cluster = name ?? DEFAULT_CLUSTER[kind];
  let describe = `${kind} cluster ${cluster}`;
  if (kind === 'minikube') describe = cluster ? `minikube profile ${cluster}` : 'minikube';
  if (kind === 'docker-desktop') describe = "Docker Desktop's Kubernetes";
  return { kind, cluster, describe: context ? `${describe} (context ${context})` : describe };
}

/** `chosen` (--for), or the kind of cluster the current context names (kind-*, k3d-*, minikube, docker-desktop). */
export async function chooseTarget(ctx: Ctx, chosen: PreloadTarget | undefined, name: string | undefined, yes: boolean): Promise<Target> {
  if (chosen) return targetOf(chosen, name);
  let context: string;
  try {
    context = await ensureTargetContext(ctx, { yes: yes || ctx.config.dryRun, what: 'pre-load images into it' });
  } catch (err) {
    if (!(err instanceof EnvironmentError)) throw err;
    throw new EnvironmentError(err.message, {
      fix: `${err.fix ?? ''}; or say which kind of cluster with --for minikube|kind|k3d|docker-desktop`,
      docs: err.docs,
    });
  }
  const kind = TARGETS.find((t) => t === clusterFlavour(context));
  if (!kind)
    throw new UsageError(`--for is needed: context '${context}' is not named like a minikube, kind, k3d or Docker Desktop cluster`, {
      fix: 'pass --for minikube|kind|k3d|docker-desktop (and --cluster-name NAME for kind and k3d)',
    });
  return targetOf(kind, name ?? (kind === 'kind' || kind === 'k3d' ? context.slice(kind.length + 1) : undefined), context);
}

const TOOLS: Record<string, { version: string[]; install: string }> = {
  docker: { version: ['version', '--format', '{{.Server.Version}}'], install: 'install Docker (Docker Desktop, or Docker Engine on Linux) and start it' },
  kind: { version: ['version'], install: 'install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation' },
  minikube: { version: ['version', '--short'], install: 'install minikube: https://minikube.sigs.k8s.io/docs/start/' },
  k3d: { version: ['version'], install: 'install k3d: https://k3d.io/#installation' },
  helm: { version: ['version', '--short'], install: 'install helm: https://helm.sh/docs/intro/install/' },
  tar: { version: ['--version'], install: 'install tar (it comes with every Linux and macOS)' },
};

/** The tools that load into a target (kind and k3d read from Docker; minikube pulls for itself). */
export const loaderTools = (kind: PreloadTarget): string[] =>
  ({ minikube: ['minikube'], kind: ['docker', 'kind'], k3d: ['docker', 'k3d'], 'docker-desktop': ['docker'] })[kind];

/** The tools a run needs are installed (and Docker's engine answers): exit 3 with the fix before anything changes. */
export async function ensureTools(ctx: Ctx, tools: readonly string[], whatFor: string, otherwise: Partial<Record<string, string>> = {}): Promise<void> {
  for (const tool of tools) {
    let r;
    try {
      r = await ctx.exec(tool, TOOLS[tool]!.version, { quiet: true, allowFailure: true, timeoutMs: 20_000 });
    } catch (err) {
      if (err instanceof EnvironmentError)
        throw new EnvironmentError(`${tool} is not installed or not on PATH: ${whatFor} needs it`, {
          fix: `${TOOLS[tool]!.install}, then re-run${otherwise[tool] ? `; or ${otherwise[tool]}` : ''}`,
          docs: 'missing-tools',
        });
      throw err;
    }
    if (r.exitCode !== 0 && tool === 'docker')
      throw new EnvironmentError(`the Docker engine is not answering: ${lastLine(r.stderr) || `docker version exited with ${r.exitCode}`}`, {
        fix: 'start Docker (Docker Desktop, or `sudo systemctl start docker`) and re-run',
      });
  }
}

export interface Cmd {
  cmd: string;
  args: string[];
  /** What it does to the image, for the message when it fails. */
  does: 'pull' | 'save' | 'load';
  /** A pull skipped when the image is already in the local Docker (a re-run after a failure pulls no more). */
  unlessPresent?: boolean;
}

export const showCmd = (c: Cmd): string => formatCommand(c.cmd, c.args);

/** The command that loads images by name from the local Docker, or from `archive` files, into a target. */
export function loadCommand(t: Target, what: readonly string[], archive: boolean): Cmd | undefined {
  const argv = {
    minikube: ['minikube', 'image', 'load', ...what, ...(t.cluster ? ['-p', t.cluster] : [])],
    kind: ['kind', 'load', archive ? 'image-archive' : 'docker-image', ...what, '--name', t.cluster!],
    k3d: ['k3d', 'image', 'import', ...what, '-c', t.cluster!],
    // Its Kubernetes uses the Docker engine's images: the pull is the pre-load.
    'docker-desktop': archive ? ['docker', 'load', '-i', ...what] : undefined,
  }[t.kind];
  return argv && { cmd: argv[0]!, args: argv.slice(1), does: 'load' };
}

/**
 * The pre-load of `images` from the network. Pulled into the host's Docker first: a pull there is faster and
 * resumable, and kind, k3d and Docker Desktop load from there. `kindArch`: kind on Docker's containerd image store,
 * where one platform is saved to `archive` and loaded with `kind load image-archive`.
 */
export function preloadPlan(images: readonly string[], t: Target, kindArch: Arch | undefined, archive: string): Cmd[] {
  const platform = t.kind === 'kind' && kindArch ? ['--platform', `linux/${kindArch}`] : [];
  const pulls = images.map((i): Cmd => ({ cmd: 'docker', args: ['pull', ...platform, i], does: 'pull', unlessPresent: true }));
  if (!platform.length) return [...pulls, ...[loadCommand(t, images, false)].filter((c) => c !== undefined)];
  return [...pulls, { cmd: 'docker', args: ['image', 'save', ...platform, '-o', archive, ...images], does: 'save' }, loadCommand(t, [archive], true)!];
}

/**
 * The pasteable pre-load of every image into one kind of cluster, for the listing: the pulls as one loop. Official
 * Docker Hub images are referenced by short name ("postgres:17.6"); docker, minikube, kind and k3d accept that as is.
 */
export function preloadCommands(images: readonly string[], kind: PreloadTarget, clusterName?: string, kindArch?: Arch): string[] {
  const cmds = preloadPlan(images, targetOf(kind, clusterName), kindArch, `learnflow-images-${kindArch}.tar`);
  const pull = cmds.find((c) => c.does === 'pull');
  const loop = pull ? [`for i in ${images.join(' ')}; do ${formatCommand(pull.cmd, pull.args.slice(0, -1))} "$i"; done`] : [];
  return [...loop, ...cmds.slice(images.length).map(showCmd)];
}

/** What --dry-run prints instead of running: the commands, pasteable. */
export const dryRunResult = (lines: string[], data: Record<string, unknown>): RunResult => ({
  steps: [],
  budgetMs: null,
  output: ['# dry run: nothing was pulled, saved or loaded; the commands:', ...lines].join('\n'),
  data: { ...data, commands: lines },
});

/** --load: image by image, from the network into the target. */
export async function preloadImages(ctx: Ctx, names: readonly string[], target: Target, timeoutMs: number): Promise<RunResult> {
  if (!ctx.config.dryRun) await ensureTools(ctx, loaderTools(target.kind), `--load into ${target.describe}`);
  let kindArch: Arch | undefined;
  if (target.kind === 'kind') {
    const kind = await kindAdvice(ctx);
    if (kind.store === 'unknown') ctx.log.warn(`${kind.why}: the archive form works with either image store`);
    else ctx.log.info(kind.why);
    if (kind.archWhy) ctx.log.warn(`linux/${kind.arch}: ${kind.archWhy}`);
    if (kind.store !== 'classic') {
      kindArch = kind.arch;
      ctx.log.info(`containerd image store: each image goes through an archive of linux/${kind.arch} (kind load image-archive)`);
    }
  }
  const dir = path.join(ctx.outDir, `preload-${ctx.clock.now()}`);
  const archive = (i: number) => path.join(dir, `${String(i + 1).padStart(2, '0')}.tar`);
  // minikube image load pulls for itself: no Docker needed there.
  const commands = (i: number, image: string) =>
    preloadPlan([image], target, kindArch, archive(i)).filter((c) => target.kind !== 'minikube' || c.does !== 'pull');
  ctx.log.info(`pre-loading ${names.length} images into ${target.describe}`);
  if (ctx.config.dryRun) {
    const unless = '   # unless the image is already in the local Docker';
    return dryRunResult(
      names.flatMap((image, i) => commands(i, image).map((c) => `${showCmd(c)}${c.unlessPresent ? unless : ''}`)),
      { target: target.describe },
    );
  }
  const step = await runStep(ctx, {
    name: 'pre-load',
    budgetMs: null,
    run: async (s) => {
      s.cleanup.defer('the pre-load archives', () => rmSync(dir, { recursive: true, force: true }));
      if (kindArch) mkdirSync(dir, { recursive: true });
      for (const [i, image] of names.entries()) {
        s.log.info(`[${i + 1}/${names.length}] ${image}`);
        await runImageCommands(s, image, commands(i, image), timeoutMs, target);
        rmSync(archive(i), { force: true });
        s.change(image, 'loaded');
      }
      s.check('pre-load', true, `${names.length} images in ${target.describe}`);
    },
  });
  return { steps: [step], budgetMs: null, data: { target: target.describe, images: names } };
}

/** Runs one image's commands; a failure is exit 1 naming the image, or exit 3 when Docker is too old for them. */
export async function runImageCommands(step: StepCtx, image: string, cmds: readonly Cmd[], timeoutMs: number, into?: Target): Promise<void> {
  for (const c of cmds) {
    if (c.unlessPresent) {
      const have = await step.exec('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { quiet: true, allowFailure: true, timeoutMs: 30_000 });
      if (have.exitCode === 0) {
        step.log.info(`${image} is already in the local Docker: not pulled`);
        continue;
      }
    }
    try {
      await step.exec(c.cmd, c.args, { timeoutMs, quiet: false });
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      const why = err.timedOut ? 'timed out (raise --timeout on a slow network)' : explain(err);
      if (c.args.includes('--platform') && /unknown flag: --platform/.test(err.stderrTail))
        throw new EnvironmentError(`this Docker is too old for \`${showCmd(c).split(' --platform')[0]} --platform\` (${why})`, {
          fix: 'upgrade Docker to 28 or newer (docker image save --platform needs API 1.48)',
          cause: err,
        });
      // The target named without its context: "into kind cluster learnflow".
      const where = c.does === 'load' && into ? ` into ${targetOf(into.kind, into.cluster).describe}` : '';
      throw new StepError(`could not ${c.does} ${image}${where}: ${why}`, {
        fix:
          c.does === 'pull'
            ? `check the network and the image name, then re-run (images already pulled are not pulled again): ${showCmd(c)}`
            : `re-run with --verbose to see every command; this one alone: ${showCmd(c)}`,
        docs: 'imagepullbackoff',
        cause: err,
      });
    }
  }
}
