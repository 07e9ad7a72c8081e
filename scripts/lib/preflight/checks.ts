// Checks before any change. Each failure is an EnvironmentError (exit 3) with cause and fix.

import { capacityHint, clusterFlavour, formatResources, freeCapacity, type NodeJson, type PodJsonForCapacity, type Resources } from './capacity.js';
import { CONTEXT_FLAG } from '../core/config.js';
import { perRun, type Ctx } from '../run/context.js';
import { CommandError, EnvironmentError, errorMessage } from '../core/errors.js';
import { Helm } from '../kube/helm.js';

export const CLUSTER_TIMEOUT_MS = 10_000;

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

interface ClientVersion {
  gitVersion?: string;
  minor?: string;
}

interface VersionAnswer {
  client?: ClientVersion;
  server?: ServerVersion;
  /** Why there is no server version (kubectl's last words), when there is none. */
  failure?: string;
}

const versions = new WeakMap<object, Promise<VersionAnswer>>();

/**
 * One `kubectl version` per run answers both what the tools check needs (the client) and what the reachability
 * check needs (the server). kubectl prints the client's version even when the server does not answer.
 */
function kubectlVersions(ctx: Ctx): Promise<VersionAnswer> {
  let answer = versions.get(ctx.config);
  if (!answer) {
    answer = ctx.kube
      .run(['version', '-o', 'json', `--request-timeout=${CLUSTER_TIMEOUT_MS / 1000}s`], {
        quiet: true,
        allowFailure: true,
        timeoutMs: CLUSTER_TIMEOUT_MS + 2000,
      })
      .then((r) => {
        let parsed: { clientVersion?: ClientVersion; serverVersion?: ServerVersion } = {};
        try {
          parsed = JSON.parse(r.stdout) as typeof parsed;
        } catch {
          // no JSON: the failure below says why
        }
        const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join(' ');
        const failure =
          r.exitCode === 0 && parsed.serverVersion
            ? undefined
            : r.exitCode === null
              ? `kubectl version timed out after ${(CLUSTER_TIMEOUT_MS + 2000) / 1000} s`
              : said || 'no server version in the answer';
        return { client: parsed.clientVersion, server: failure ? undefined : parsed.serverVersion, failure };
      });
    versions.set(ctx.config, answer);
  }
  return answer;
}

/** The API server answers within CLUSTER_TIMEOUT_MS, or we stop with exit 3. */
export async function ensureClusterReachable(ctx: Ctx): Promise<ServerVersion> {
  let detail: string;
  try {
    const v = await kubectlVersions(ctx);
    if (v.server) return v.server;
    detail = v.failure ?? 'no server version in the answer';
  } catch (err) {
    if (err instanceof EnvironmentError) throw err;
    detail = err instanceof CommandError ? err.stderrTail.split('\n').slice(-2).join(' ') : errorMessage(err);
  }
  const where = await describeTarget(ctx);
  if (where.missingContext) {
    throw new EnvironmentError(
      `context '${where.missingContext}' is not in your kubeconfig${where.contexts.length ? `; it has: ${where.contexts.join(', ')}` : ' (it has no contexts)'}`,
      {
        fix: where.contexts.length
          ? `pass one of them, e.g. --context ${where.contexts[0]}`
          : 'start a local cluster (minikube start / kind create cluster): it adds its context',
        docs: 'cluster-unreachable',
      },
    );
  }
  throw new EnvironmentError(
    `the Kubernetes cluster${where.context ? ` (context ${where.context}${where.server ? `, server ${where.server}` : ''})` : ''} is not reachable: ${detail}`,
    {
      fix: 'start your cluster (minikube start / kind create cluster) and check `kubectl cluster-info`; pick another with --context',
      docs: 'cluster-unreachable',
    },
  );
}

/** Which context and server kubectl tried (for the message when it could not get through). Never throws. */
async function describeTarget(ctx: Ctx): Promise<{ context?: string; server?: string; contexts: string[]; missingContext?: string }> {
  const quiet = { quiet: true, allowFailure: true, timeoutMs: 5_000 } as const;
  const names = await ctx.exec('kubectl', ['config', 'get-contexts', '-o', 'name'], quiet).catch(() => undefined);
  const contexts = (names?.stdout ?? '').split('\n').filter(Boolean);
  if (ctx.config.context && names?.exitCode === 0 && !contexts.includes(ctx.config.context)) return { contexts, missingContext: ctx.config.context };
  const view = await ctx.kube
    .run(['config', 'view', '--minify', '-o', 'jsonpath={.contexts[0].name} {.clusters[0].cluster.server}'], quiet)
    .catch(() => undefined);
  const [context, server] = (view?.exitCode === 0 ? view.stdout.trim() : '').split(' ');
  return { context: context || ctx.config.context, server: server || undefined, contexts };
}

interface StorageClassJson {
  metadata: { name: string; annotations?: Record<string, string> };
}

/** PVCs without a storageClassName need exactly one default StorageClass, or they stay Pending. */
export async function ensureDefaultStorageClass(ctx: Ctx): Promise<string> {
  const classes = await ctx.kube.list<StorageClassJson>('storageclass', { namespace: null });
  const defaults = classes.filter((c) => {
    const a = c.metadata.annotations ?? {};
    return a['storageclass.kubernetes.io/is-default-class'] === 'true' || a['storageclass.beta.kubernetes.io/is-default-class'] === 'true';
  });
  if (defaults.length === 1) return defaults[0]!.metadata.name;
  if (defaults.length === 0) {
    throw new EnvironmentError(
      `no default StorageClass: the PostgreSQL and Kafka volumes would stay Pending (${classes.length ? `classes present: ${classes.map((c) => c.metadata.name).join(', ')}` : 'the cluster has none'})`,
      {
        fix: classes.length
          ? `kubectl patch storageclass ${classes[0]!.metadata.name} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'`
          : 'minikube addons enable storage-provisioner && minikube addons enable default-storageclass (kind and k3d ship one)',
        docs: 'no-default-storageclass',
      },
    );
  }
  throw new EnvironmentError(
    `${defaults.length} StorageClasses are marked default (${defaults.map((c) => c.metadata.name).join(', ')}): which one a volume gets is unpredictable`,
    {
      fix: `kubectl patch storageclass ${defaults[1]!.metadata.name} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"false"}}}'`,
      docs: 'no-default-storageclass',
    },
  );
}

// ---------------------------------------------------------------------------------------------
// The master scripts' preflight: tools, target context, capacity.

export const MIN_KUBECTL_MINOR = 30;

/** kubectl and (when a component installs a Helm release) helm present at supported versions. */
export async function ensureTools(ctx: Ctx, opts: { helm: boolean }): Promise<{ kubectl: string; helm?: string }> {
  // helm's version is asked beside kubectl's and read once kubectl passed; the catch only keeps it from going
  // unhandled meanwhile.
  const helmVersion = opts.helm ? new Helm(ctx.exec).version() : undefined;
  helmVersion?.catch(() => undefined);
  // The run's one `kubectl version` (shared with the reachability check); the client alone when it had no answer.
  let client = (await kubectlVersions(ctx).catch((err: unknown) => (err instanceof EnvironmentError ? Promise.reject(err) : undefined)))?.client;
  if (!client?.minor) {
    const k = await ctx.exec('kubectl', ['version', '--client', '-o', 'json'], { quiet: true, timeoutMs: 10_000 });
    client = (JSON.parse(k.stdout) as { clientVersion?: ClientVersion }).clientVersion;
  }
  const minor = Number.parseInt(client?.minor ?? '0', 10);
  if (minor < MIN_KUBECTL_MINOR) {
    throw new EnvironmentError(
      `kubectl ${client?.gitVersion ?? '?'} is too old: the kit needs 1.${MIN_KUBECTL_MINOR} or newer (server-side apply, -o json everywhere)`,
      {
        fix: 'install a current kubectl (https://kubernetes.io/docs/tasks/tools/) and put it first on PATH',
        docs: 'missing-tools',
      },
    );
  }
  if (!helmVersion) return { kubectl: client?.gitVersion ?? '?' };
  const { version } = await helmVersion;
  return { kubectl: client?.gitVersion ?? '?', helm: version };
}

export const LOCAL_CONTEXT = /^(minikube|docker-desktop|docker-for-desktop|rancher-desktop|orbstack|colima|kind-.+|k3d-.+|kwok-.+)$/;

/** The context's name: --context, else kubeconfig's current one ('' when there is none). Asked once per run. */
export function contextName(ctx: Ctx): Promise<string> {
  if (ctx.config.context) return Promise.resolve(ctx.config.context);
  return perRun(ctx, 'current context', () =>
    ctx.kube
      .run(['config', 'current-context'], { quiet: true, timeoutMs: 10_000, allowFailure: true })
      .then((r) => r.stdout.trim())
      // A missing kubectl is named as such; any other failure means there is no usable current context.
      .catch((err: unknown) => (err instanceof EnvironmentError ? Promise.reject(err) : '')),
  );
}

/**
 * The context the kit will change. A context that does not look like a local cluster needs --context naming it, or
 * --yes; with `strict` (destroy --purge: volumes and namespaces go) only --context will do.
 */
export async function ensureTargetContext(ctx: Ctx, opts: { yes: boolean; strict?: boolean; what?: string }): Promise<string> {
  const context = await contextName(ctx);
  if (!context) {
    throw new EnvironmentError('no current kubeconfig context: kubectl does not know which cluster to use', {
      fix: 'start a local cluster (minikube start / kind create cluster) or pass --context NAME',
      docs: 'cluster-unreachable',
    });
  }
  const explicit = ctx.config.options.given(CONTEXT_FLAG);
  if (LOCAL_CONTEXT.test(context) || explicit) return context;
  const what = opts.what ?? 'change it';
  if (opts.strict) {
    throw new EnvironmentError(
      `the current context '${context}' does not look like a local cluster; refusing to ${what} without --context naming it (--yes is not enough for this)`,
      {
        fix: `pass --context ${context} if this is the cluster you mean`,
        docs: 'wrong-context',
      },
    );
  }
  if (!opts.yes) {
    throw new EnvironmentError(`the current context '${context}' does not look like a local cluster; refusing to ${what} without being told`, {
      fix: `pass --context ${context} to confirm this cluster (or --yes)`,
      docs: 'wrong-context',
    });
  }
  return context;
}

/** `allPods`: every pod of the cluster when the caller has listed them already (preflight shares one list). */
export async function ensureCapacity(
  ctx: Ctx,
  context: string,
  need: Resources,
  stackNamespaces: readonly string[],
  allPods?: Promise<readonly PodJsonForCapacity[]>,
): Promise<Resources> {
  const [nodes, pods] = await Promise.all([
    ctx.kube.list<NodeJson>('nodes', { namespace: null }),
    allPods ?? ctx.kube.list<PodJsonForCapacity>('pods', { namespace: null }),
  ]);
  const free = freeCapacity(nodes, pods, stackNamespaces);
  const shortCpu = free.cpuMillis < need.cpuMillis;
  const shortMem = free.memoryBytes < need.memoryBytes;
  if (shortCpu || shortMem) {
    const what = [shortCpu ? 'CPU' : '', shortMem ? 'memory' : ''].filter(Boolean).join(' and ');
    throw new EnvironmentError(
      `not enough ${what}: the stack requests ${formatResources(need)}, the nodes can give ${formatResources({ cpuMillis: Math.max(0, free.cpuMillis), memoryBytes: Math.max(0, free.memoryBytes) })}${clusterFlavour(context) ? ` (${context})` : ''}`,
      {
        fix: capacityHint(context, need),
        docs: 'not-enough-resources',
      },
    );
  }
  return free;
}
