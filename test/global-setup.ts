// Once per vitest run: clusters left behind by a killed earlier run are deleted before any test starts.
import { reapStaleKubeClusters } from './support/kube-cluster.js';

export default async function setup(): Promise<void> {
  await reapStaleKubeClusters();
}
