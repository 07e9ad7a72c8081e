// The cluster as the run found it, read in two kubectl calls (cluster-wide kinds, the stack namespace's) so the run's
// readers (preflight, remembered settings, Secrets, an apply's before-state, a wait's first look) spawn nothing.
// Kube drops it on the first write that changes something; a Helm release forgets only its namespace and the
// cluster-scoped kinds. A no-op re-run therefore reads the cluster once.

import type { Manifest } from './manifests.js';
import { labelSelectorMatches } from './selector.js';

export interface SnapshotObject {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
}

/** kubectl's names for the kinds a snapshot can hold (singular, plural, short), by kind. */
const ALIASES: Record<string, readonly string[]> = {
  Pod: ['pod', 'pods', 'po'],
  StatefulSet: ['statefulset', 'statefulsets', 'sts', 'statefulsets.apps'],
  Deployment: ['deployment', 'deployments', 'deploy', 'deployments.apps'],
  PersistentVolumeClaim: ['persistentvolumeclaim', 'persistentvolumeclaims', 'pvc'],
  Secret: ['secret', 'secrets'],
  ConfigMap: ['configmap', 'configmaps', 'cm'],
  Service: ['service', 'services', 'svc'],
  ServiceAccount: ['serviceaccount', 'serviceaccounts', 'sa'],
  NetworkPolicy: ['networkpolicy', 'networkpolicies', 'netpol', 'networkpolicies.networking.k8s.io'],
  PodDisruptionBudget: ['poddisruptionbudget', 'poddisruptionbudgets', 'pdb', 'poddisruptionbudgets.policy'],
  Node: ['node', 'nodes', 'no'],
  StorageClass: ['storageclass', 'storageclasses', 'sc', 'storageclasses.storage.k8s.io'],
  Namespace: ['namespace', 'namespaces', 'ns'],
  EndpointSlice: ['endpointslice', 'endpointslices', 'endpointslices.discovery.k8s.io'],
  Component: ['components.dapr.io', 'component.dapr.io'],
  Configuration: ['configurations.dapr.io', 'configuration.dapr.io'],
  Resiliency: ['resiliencies.dapr.io', 'resiliency.dapr.io'],
};

const KIND_OF = new Map(Object.entries(ALIASES).flatMap(([kind, names]) => names.map((n) => [n, kind] as const)));

/** Kinds that live outside any namespace. */
const CLUSTER_SCOPED = new Set(['Node', 'StorageClass', 'Namespace']);

/** The kind a kubectl resource name means, or undefined for one the snapshot does not know. */
export function kindOf(resource: string): string | undefined {
  return KIND_OF.get(resource.toLowerCase());
}

/** The resource name kubectl lists a kind by (plural, with the group where kubectl needs it); undefined if unknown. */
export function resourceOf(kind: string): string | undefined {
  const names = ALIASES[kind];
  return names && (names.find((n) => n.includes('.')) ?? names[1]);
}

export interface SnapshotSpec {
  /** Kinds listed in every namespace (and cluster-scoped kinds), e.g. Node, StorageClass, Pod. */
  everywhere: readonly string[];
  /** Kinds listed in these namespaces only (Secrets and ConfigMaps: never the whole cluster's). */
  namespaced: readonly { namespace: string; kinds: readonly string[] }[];
}

/** Read everywhere: what preflight counts (nodes, every pod) and what the waits look at (workloads in any namespace). */
const EVERYWHERE = ['Node', 'StorageClass', 'Namespace', 'Pod', 'StatefulSet', 'Deployment'];
/** Read in the stack's namespace besides the kinds the plans apply: what the components read there. */
const STACK_READS = ['ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Service', 'EndpointSlice'];

/**
 * A run's snapshot: the cluster-wide kinds, and in the stack's namespace every kind the plans' manifests name
 * (those the snapshot knows) plus what the components read there. Never the Secrets of other namespaces.
 */
export function runSnapshotSpec(namespace: string, manifests: readonly Manifest[]): SnapshotSpec {
  const planned = manifests.map((m) => m.kind).filter((k) => k in ALIASES && !CLUSTER_SCOPED.has(k));
  const kinds = [...new Set([...STACK_READS, ...planned])].filter((k) => !EVERYWHERE.includes(k));
  return { everywhere: EVERYWHERE, namespaced: [{ namespace, kinds }] };
}

export class Snapshot {
  /** `Kind|namespace` pairs held in full ('*': every namespace; '': a cluster-scoped kind). */
  private readonly covered = new Set<string>();
  /** Namespaces changed since the read by another tool (each also a Namespace object that may now exist). */
  private readonly forgotten = new Set<string>();

  constructor(
    private readonly objects: readonly SnapshotObject[],
    spec: SnapshotSpec,
  ) {
    for (const kind of spec.everywhere) this.covered.add(`${kind}|${CLUSTER_SCOPED.has(kind) ? '' : '*'}`);
    for (const n of spec.namespaced) for (const kind of n.kinds) this.covered.add(`${kind}|${CLUSTER_SCOPED.has(kind) ? '' : n.namespace}`);
  }

  /** Whether every kind of `resources` (kubectl's comma list) in `namespace` (null: all) is held in full. */
  private covers(resources: string, namespace: string | null): boolean {
    return resources.split(',').every((r) => {
      const kind = kindOf(r);
      if (!kind) return false;
      // Namespace objects are forgotten one by one (get knows which); other cluster-scoped kinds all at once.
      if (CLUSTER_SCOPED.has(kind)) return (kind === 'Namespace' || this.forgotten.size === 0) && this.covered.has(`${kind}|`);
      if (namespace === null ? this.forgotten.size > 0 : this.forgotten.has(namespace)) return false;
      return this.covered.has(`${kind}|*`) || (namespace !== null && this.covered.has(`${kind}|${namespace}`));
    });
  }

  /** Another tool (a Helm release) changed `namespace`, maybe created it, and maybe cluster-scoped objects. */
  forget(namespace: string): void {
    this.forgotten.add(namespace);
  }

  /** The objects `kubectl get <resources> [-n ns | -A] [-l selector]` would list; undefined when not held. */
  list<T>(resources: string, namespace: string | null, selector?: string): T[] | undefined {
    // A forgotten namespace may exist now: every Namespace but that one is still known, so a list is not.
    if (this.forgotten.size > 0 && resources.split(',').some((r) => kindOf(r) === 'Namespace')) return undefined;
    return this.held<T>(resources, namespace, selector);
  }

  private held<T>(resources: string, namespace: string | null, selector?: string): T[] | undefined {
    if (!this.covers(resources, namespace)) return undefined;
    const kinds = new Set(resources.split(',').map((r) => kindOf(r)!));
    const out: SnapshotObject[] = [];
    for (const o of this.objects) {
      if (!kinds.has(o.kind)) continue;
      if (!CLUSTER_SCOPED.has(o.kind) && namespace !== null && o.metadata.namespace !== namespace) continue;
      if (selector !== undefined) {
        const m = labelSelectorMatches(selector, o.metadata.labels ?? {});
        if (m === undefined) return undefined; // a selector this reader does not understand: ask the API server
        if (!m) continue;
      }
      out.push(o);
    }
    return out as unknown as T[];
  }

  /** One object: null when it did not exist, undefined when the snapshot does not hold its kind there. */
  get<T>(resource: string, name: string, namespace: string | null): T | null | undefined {
    if (kindOf(resource) === 'Namespace' && this.forgotten.has(name)) return undefined;
    const items = this.held<SnapshotObject>(resource, namespace);
    if (!items) return undefined;
    return (items.find((o) => o.metadata.name === name) as T | undefined) ?? null;
  }
}
