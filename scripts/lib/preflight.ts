// Checks before any change. Each failure is an EnvironmentError (exit 3) with cause and fix.

import type { Ctx } from './context.js';
import { CommandError, EnvironmentError, errorMessage } from './errors.js';

export const CLUSTER_TIMEOUT_MS = 10_000;

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

/** The API server answers within 10 s, or we stop with exit 3. */
export async function ensureClusterReachable(ctx: Ctx): Promise<ServerVersion> {
  try {
    const r = await ctx.kube.run(['version', '-o', 'json', `--request-timeout=${CLUSTER_TIMEOUT_MS / 1000}s`], { quiet: true, timeoutMs: CLUSTER_TIMEOUT_MS + 2000 });
    const parsed = JSON.parse(r.stdout) as { serverVersion?: ServerVersion };
    if (!parsed.serverVersion) throw new Error('no server version in the answer');
    return parsed.serverVersion;
  } catch (err) {
    if (err instanceof EnvironmentError) throw err;
    const detail = err instanceof CommandError ? err.stderrTail.split('\n').slice(-2).join(' ') : errorMessage(err);
    throw new EnvironmentError(`the Kubernetes cluster${ctx.config.context ? ` (context ${ctx.config.context})` : ''} is not reachable: ${detail}`, {
      fix: 'start your cluster (minikube start / kind create cluster) and check `kubectl cluster-info`; pick another with --context',
      docs: 'cluster-unreachable',
    });
  }
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
          : 'minikube addons enable storage-provisioner default-storageclass (kind and k3d ship one)',
        docs: 'no-default-storageclass',
      },
    );
  }
  throw new EnvironmentError(`${defaults.length} StorageClasses are marked default (${defaults.map((c) => c.metadata.name).join(', ')}): which one a volume gets is unpredictable`, {
    fix: `kubectl patch storageclass ${defaults[1]!.metadata.name} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"false"}}}'`,
    docs: 'no-default-storageclass',
  });
}
