// Preflight's capacity check: the stack's summed requests (rendered manifests and chart values) against what the
// nodes can still give; checks.ts fetches the JSON.

import { parseCpu, parseMemory } from '../kube/quantity.js';
import type { Manifest } from '../kube/manifests.js';

export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
}

export function formatResources(r: Resources): string {
  return `${(r.cpuMillis / 1000).toFixed(2).replace(/\.?0+$/, '')} CPU, ${(r.memoryBytes / 1024 ** 3).toFixed(1)} GiB`;
}

interface PodSpecLike {
  containers?: { resources?: { requests?: Record<string, string> } }[];
  initContainers?: { resources?: { requests?: Record<string, string> } }[];
}

export function podSpecRequests(spec: PodSpecLike | undefined): Resources {
  const sum = (cs: PodSpecLike['containers']) =>
    (cs ?? []).reduce(
      (acc, c) => ({
        cpuMillis: acc.cpuMillis + parseCpu(c.resources?.requests?.cpu),
        memoryBytes: acc.memoryBytes + parseMemory(c.resources?.requests?.memory),
      }),
      { cpuMillis: 0, memoryBytes: 0 },
    );
  const main = sum(spec?.containers);
  // Init containers run before the others: the pod needs the larger of the two.
  const init = (spec?.initContainers ?? []).map((c) => sum([c]));
  return {
    cpuMillis: Math.max(main.cpuMillis, ...init.map((i) => i.cpuMillis)),
    memoryBytes: Math.max(main.memoryBytes, ...init.map((i) => i.memoryBytes)),
  };
}

/** Requests of every long-running workload in the manifests, times its replicas. Jobs are ignored. */
export function manifestRequests(manifests: readonly Manifest[]): Resources {
  let total: Resources = { cpuMillis: 0, memoryBytes: 0 };
  for (const m of manifests) {
    if (!['StatefulSet', 'Deployment', 'DaemonSet'].includes(m.kind)) continue;
    const spec = m.spec as { replicas?: number; template?: { spec?: PodSpecLike } } | undefined;
    const one = podSpecRequests(spec?.template?.spec);
    const n = m.kind === 'DaemonSet' ? 1 : (spec?.replicas ?? 1);
    total = add(total, { cpuMillis: one.cpuMillis * n, memoryBytes: one.memoryBytes * n });
  }
  return total;
}

export function add(a: Resources, b: Resources): Resources {
  return { cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes };
}

export interface NodeJson {
  metadata: { name: string };
  spec?: { unschedulable?: boolean; taints?: { effect: string; key: string }[] };
  status?: { allocatable?: Record<string, string> };
}

export interface PodJsonForCapacity {
  metadata: { namespace?: string };
  spec?: PodSpecLike & { nodeName?: string };
  status?: { phase?: string };
}

/**
 * What the schedulable nodes can still give to the stack: allocatable minus what pods outside the
 * stack's namespaces already request (the stack's own pods are replaced on re-run, not added).
 */
export function freeCapacity(nodes: readonly NodeJson[], pods: readonly PodJsonForCapacity[], stackNamespaces: readonly string[]): Resources {
  const usable = nodes.filter(
    (n) => !n.spec?.unschedulable && !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' && !t.key.startsWith('node.kubernetes.io/')),
  );
  const names = new Set(usable.map((n) => n.metadata.name));
  let free: Resources = usable.reduce(
    (acc, n) => add(acc, { cpuMillis: parseCpu(n.status?.allocatable?.cpu), memoryBytes: parseMemory(n.status?.allocatable?.memory) }),
    { cpuMillis: 0, memoryBytes: 0 },
  );
  for (const p of pods) {
    if (stackNamespaces.includes(p.metadata.namespace ?? '')) continue;
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    if (!p.spec?.nodeName || !names.has(p.spec.nodeName)) continue;
    const r = podSpecRequests(p.spec);
    free = { cpuMillis: free.cpuMillis - r.cpuMillis, memoryBytes: free.memoryBytes - r.memoryBytes };
  }
  return free;
}

/** Kind of cluster from the context name, for the exact hint. */
export function clusterFlavour(context: string): 'minikube' | 'kind' | 'k3d' | 'docker-desktop' | 'rancher-desktop' | 'orbstack' | undefined {
  if (context === 'minikube') return 'minikube';
  if (context.startsWith('kind-')) return 'kind';
  if (context.startsWith('k3d-')) return 'k3d';
  if (context === 'docker-desktop' || context === 'docker-for-desktop') return 'docker-desktop';
  if (context === 'rancher-desktop') return 'rancher-desktop';
  if (context === 'orbstack') return 'orbstack';
  return undefined;
}

export function capacityHint(context: string, need: Resources): string {
  const cpus = Math.max(2, Math.ceil((need.cpuMillis + 1000) / 1000));
  const gib = Math.max(4, Math.ceil(need.memoryBytes / 1024 ** 3 + 2));
  switch (clusterFlavour(context)) {
    case 'minikube':
      return `minikube delete && minikube start --cpus ${cpus} --memory ${gib}g   (memory and CPUs are fixed when the VM is created)`;
    case 'kind':
    case 'k3d':
      return `give Docker more resources (Docker Desktop: Settings > Resources: at least ${cpus} CPUs and ${gib} GB), then recreate the cluster`;
    case 'docker-desktop':
    case 'rancher-desktop':
    case 'orbstack':
      return `raise the VM's resources in the app's settings to at least ${cpus} CPUs and ${gib} GB`;
    default:
      return `add nodes or free resources: the stack needs ${formatResources(need)} of requests`;
  }
}
