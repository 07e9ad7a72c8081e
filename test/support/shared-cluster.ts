// One cluster for a whole test file: started in beforeAll, stopped in afterAll (also when its start outlived
// the beforeAll timeout). Returns a getter for use inside the tests.
import { afterAll, beforeAll } from 'vitest';
import { startKubeCluster, type KubeCluster, type KubeClusterOptions } from './kube-cluster.js';
import type { RealNode, RealNodeOptions } from './real-node.js';

export function sharedCluster(
  opts: KubeClusterOptions & { realNode: true | RealNodeOptions },
  setup?: (c: KubeCluster & { realNode: RealNode }) => Promise<void>,
): () => KubeCluster & { realNode: RealNode };
export function sharedCluster(opts?: KubeClusterOptions, setup?: (c: KubeCluster) => Promise<void>): () => KubeCluster;
export function sharedCluster(opts: KubeClusterOptions = {}, setup?: (c: KubeCluster & { realNode: RealNode }) => Promise<void>): () => KubeCluster {
  let cluster: KubeCluster | undefined;
  let starting: Promise<KubeCluster> | undefined;
  beforeAll(async () => {
    starting = startKubeCluster(opts);
    cluster = await starting;
    await setup?.(cluster as KubeCluster & { realNode: RealNode });
  }, 180_000);
  afterAll(async () => {
    await (await starting?.catch(() => undefined))?.stop();
  }, 180_000);
  return () => {
    if (!cluster) throw new Error('the shared cluster did not start (see the beforeAll error)');
    return cluster;
  };
}
