// What scripts/images.mts needs to know before it prints or runs a pre-load: which kind of cluster (--for or the
// kubeconfig context), the architecture of its nodes, which image store the local Docker uses, and whether the
// loader's tool is installed.

import type { Ctx } from '../../run/context.js';
import { YES_FLAG } from '../../core/config.js';
import { flag } from '../../core/flags.js';
import { CommandError, EnvironmentError, UsageError, errorMessage } from '../../core/errors.js';
import { clusterFlavour } from '../../preflight/capacity.js';
import { ensureTargetContext } from '../../preflight/checks.js';

export const TARGETS = ['minikube', 'kind', 'k3d', 'docker-desktop'] as const;
export type PreloadTarget = (typeof TARGETS)[number];

export const ARCHES = ['amd64', 'arm64'] as const;

/** --for: the kind of cluster to pre-load into (also read by chooseTarget below). */
export const FOR_FLAG = flag({
  name: 'for',
  kind: 'string',
  valueName: 'CLUSTER',
  choices: TARGETS,
  description:
    'the kind of cluster: print its pre-load commands only (default: all); what --load and load load into (default: the one the current context names)',
});

export const CLUSTER_NAME_FLAG = flag({
  name: 'cluster-name',
  kind: 'string',
  valueName: 'NAME',
  description: 'kind / k3d cluster name, minikube profile (default: from the context kind-NAME / k3d-NAME, else kind, k3s-default)',
});
export type Arch = (typeof ARCHES)[number];

/** amd64 / arm64 from what kubectl (amd64), docker info (x86_64, aarch64) or node (x64) call it. */
export function toArch(name: string | undefined): Arch | undefined {
  switch ((name ?? '').trim().toLowerCase()) {
    case 'amd64':
    case 'x86_64':
    case 'x64':
      return 'amd64';
    case 'arm64':
    case 'aarch64':
      return 'arm64';
    default:
      return undefined;
  }
}

export function hostArch(): Arch | undefined {
  return toArch(process.arch);
}

/**
 * Docker's image store. "containerd": the containerd image store (the default of Docker Desktop and of Docker
 * Engine 29), where `kind load docker-image` fails with "content digest not found" (kubernetes-sigs/kind#3795,
 * #4224) and `docker image save --platform` + `kind load image-archive` works (kind#4247). "classic": the graph
 * drivers (overlay2 and the like), where `kind load docker-image` works.
 */
export type ImageStore = 'containerd' | 'classic';

export type DockerFacts = { ok: true; store: ImageStore; driver: string; arch?: Arch; why: string } | { ok: false; why: string };

interface DockerInfoJson {
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  Architecture?: string;
  ServerErrors?: string[];
}

/**
 * `docker info --format '{{json .}}'`. The engine on the containerd store reports DriverStatus
 * [["driver-type", "io.containerd.snapshotter.v1"]] (moby/moby#43983, LayerStoreStatus); buildpacks/imgutil#231
 * relies on that rather than on the driver's name, which is the snapshotter's and can be changed ("stargz" on
 * Docker Desktop, "overlayfs" on Docker Engine 29). The two names that are only ever snapshotters back it up.
 */
export function parseDockerInfo(stdout: string): DockerFacts {
  let info: DockerInfoJson;
  try {
    info = JSON.parse(stdout) as DockerInfoJson;
  } catch {
    return { ok: false, why: 'docker info did not print JSON' };
  }
  if (info.ServerErrors?.length) return { ok: false, why: `the Docker engine is not answering: ${info.ServerErrors[0]}` };
  const driver = info.Driver ?? '';
  const snapshotter = (info.DriverStatus ?? []).some(([k, v]) => k === 'driver-type' && v === 'io.containerd.snapshotter.v1');
  const containerd = snapshotter || driver === 'overlayfs' || driver === 'stargz';
  return {
    ok: true,
    store: containerd ? 'containerd' : 'classic',
    driver,
    arch: toArch(info.Architecture),
    why: containerd
      ? `docker info: storage driver ${driver || '?'}${snapshotter ? ', driver-type io.containerd.snapshotter.v1' : ''}: the containerd image store`
      : `docker info: storage driver ${driver || '?'}: the classic image store`,
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
    if (err instanceof CommandError) return { ok: false, why: `docker info failed: ${lastLine(err.stderrTail)}` };
    throw err;
  }
}

/** The architecture of every node of the current (or --context) cluster; undefined with why when it cannot tell. */
export async function nodeArch(ctx: Ctx): Promise<{ arch?: Arch; all: string[]; why: string }> {
  if (ctx.config.noCluster) return { all: [], why: '--no-cluster' };
  try {
    const r = await ctx.kube.run(['get', 'nodes', '-o', 'jsonpath={.items[*].status.nodeInfo.architecture}', '--request-timeout=5s'], {
      quiet: true,
      allowFailure: true,
      timeoutMs: 8_000,
    });
    const all = r.stdout.split(/\s+/).filter(Boolean);
    if (r.exitCode !== 0 || all.length === 0) return { all, why: `no cluster answered: ${lastLine(r.stderr) || 'kubectl get nodes found no nodes'}` };
    const arches = new Set(all.map(toArch));
    if (arches.size > 1) return { all, why: `the nodes differ in architecture (${all.join(', ')})` };
    const arch = [...arches][0];
    return arch ? { arch, all, why: `the cluster's nodes are ${arch}` } : { all, why: `the nodes' architecture ${all[0]} is neither amd64 nor arm64` };
  } catch (err) {
    if (err instanceof EnvironmentError) return { all: [], why: 'kubectl is not installed' };
    throw err;
  }
}

export interface Target {
  kind: PreloadTarget;
  /** kind / k3d cluster name; minikube profile (only when --cluster-name gives one). */
  cluster?: string;
  /** For messages: "kind cluster learnflow (context kind-learnflow)". */
  describe: string;
}

const DEFAULT_CLUSTER: Partial<Record<PreloadTarget, string>> = { kind: 'kind', k3d: 'k3s-default' };

export function describeTarget(kind: PreloadTarget, cluster: string | undefined): string {
  if (kind === 'docker-desktop') return "Docker Desktop's Kubernetes";
  if (kind === 'minikube') return cluster ? `minikube profile ${cluster}` : 'minikube';
  return `${kind} cluster ${cluster}`;
}

/** --for, or the kind of cluster the current context names (kind-*, k3d-*, minikube, docker-desktop). */
export async function chooseTarget(ctx: Ctx): Promise<Target> {
  const o = ctx.config.options;
  const named = o.get(CLUSTER_NAME_FLAG);
  const chosen = o.get(FOR_FLAG) as PreloadTarget | undefined;
  if (chosen !== undefined) {
    const kind = chosen;
    const cluster = named ?? DEFAULT_CLUSTER[kind];
    return { kind, cluster, describe: describeTarget(kind, cluster) };
  }
  let context: string;
  try {
    context = await ensureTargetContext(ctx, { yes: o.on(YES_FLAG) || ctx.config.dryRun, what: 'pre-load images into it' });
  } catch (err) {
    if (!(err instanceof EnvironmentError)) throw err;
    throw new EnvironmentError(err.message, {
      fix: `${err.fix ?? ''}; or say which kind of cluster with --for minikube|kind|k3d|docker-desktop`,
      docs: err.docs,
    });
  }
  const flavour = clusterFlavour(context);
  const kind = (TARGETS as readonly string[]).includes(flavour ?? '') ? (flavour as PreloadTarget) : undefined;
  if (!kind)
    throw new UsageError(`--for is needed: context '${context}' is not named like a minikube, kind, k3d or Docker Desktop cluster`, {
      fix: 'pass --for minikube|kind|k3d|docker-desktop (and --cluster-name NAME for kind and k3d)',
    });
  const fromContext = kind === 'kind' || kind === 'k3d' ? context.slice(kind.length + 1) : undefined;
  const cluster = named ?? fromContext ?? DEFAULT_CLUSTER[kind];
  return { kind, cluster, describe: `${describeTarget(kind, cluster)} (context ${context})` };
}

const INSTALL: Record<string, string> = {
  docker: 'install Docker (Docker Desktop, or Docker Engine on Linux) and start it',
  kind: 'install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation',
  minikube: 'install minikube: https://minikube.sigs.k8s.io/docs/start/',
  k3d: 'install k3d: https://k3d.io/#installation',
  helm: 'install helm: https://helm.sh/docs/intro/install/',
  tar: 'install tar (it comes with every Linux and macOS)',
};

const VERSION_ARGS: Record<string, string[]> = {
  docker: ['version', '--format', '{{.Server.Version}}'],
  kind: ['version'],
  minikube: ['version', '--short'],
  k3d: ['version'],
  helm: ['version', '--short'],
  tar: ['--version'],
};

/** The tools a run needs are installed (and Docker's engine answers): exit 3 with the fix before anything changes. */
export async function ensureTools(ctx: Ctx, tools: readonly string[], whatFor: string, otherwise: Partial<Record<string, string>> = {}): Promise<void> {
  for (const tool of tools) {
    let r;
    try {
      r = await ctx.exec(tool, VERSION_ARGS[tool] ?? ['version'], { quiet: true, allowFailure: true, timeoutMs: 20_000 });
    } catch (err) {
      if (err instanceof EnvironmentError)
        throw new EnvironmentError(`${tool} is not installed or not on PATH: ${whatFor} needs it`, {
          fix: `${INSTALL[tool] ?? `install ${tool}`}, then re-run${otherwise[tool] ? `; or ${otherwise[tool]}` : ''}`,
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

export function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? ''
  );
}

export function explain(err: unknown): string {
  return err instanceof CommandError ? lastLine(err.stderrTail) || err.message.split('\n')[0]! : errorMessage(err);
}
