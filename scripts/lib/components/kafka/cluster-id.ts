// Which KRaft cluster id a deploy uses. Pure. It must match what `kafka-storage.sh format` wrote on the volumes, and
// tells this stack's Kafka from another (connectKafka checks it before reusing scripts/port-forward.mts's forwards).

import { CLUSTER_ID_ANNOTATION, clusterIdFor, newClusterId, podName, STATEFULSET } from '../shared/kafka-topology.js';

export interface ClaimJson {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

export function claimName(i: number): string {
  return `data-${podName(i)}`;
}

/**
 * The running StatefulSet's id; else the one recorded on the first broker's claim (the StatefulSet was deleted,
 * the volumes kept); else, for a claim without a record (formatted by an earlier kit version), the id those
 * versions derived from the namespace; else a new random one.
 */
export function chooseClusterId(o: { namespace: string; deployed?: string; claims: readonly ClaimJson[]; generate?: () => string }): {
  id: string;
  why: string;
} {
  if (o.deployed) return { id: o.deployed, why: `KRaft cluster id ${o.deployed}, as statefulset/${STATEFULSET} runs it` };
  const first = o.claims.find((c) => c.metadata.name === claimName(0));
  const recorded = first?.metadata.annotations?.[CLUSTER_ID_ANNOTATION];
  if (recorded) return { id: recorded, why: `KRaft cluster id ${recorded}, as recorded on pvc/${claimName(0)} (its volume was formatted with it)` };
  if (first) {
    const id = clusterIdFor(o.namespace);
    return { id, why: `KRaft cluster id ${id}: pvc/${claimName(0)} holds a volume an earlier kit version formatted with the id it derived from the namespace` };
  }
  const id = (o.generate ?? newClusterId)();
  return { id, why: `KRaft cluster id ${id} (new, random)` };
}
