// Who the brokers are and how each is reached: node ids, listeners, advertised addresses, the KRaft voters,
// the laptop port-forwards, and the replication settings that follow from the broker count. Pure functions:
// the manifests, the deploy/verify scripts and scripts/port-forward.mts all read the addresses from here.

import { createHash, randomBytes } from 'node:crypto';
import type { PortForwardTarget } from '../../run/port-forward.js';

export const STATEFULSET = 'kafka';
export const HEADLESS_SERVICE = 'kafka-headless';
export const BOOTSTRAP_SERVICE = 'kafka';
export const KAFKA_SELECTOR = 'app.kubernetes.io/name=kafka';

/** PLAINTEXT listener: in-cluster clients and broker-to-broker traffic. */
export const CLIENT_PORT = 9092;
/** CONTROLLER listener: the KRaft quorum. Never advertised. */
export const CONTROLLER_PORT = 9093;
/** The first stack's laptop port base (others: stack-record.ts): broker i's LOCAL listener is base + i. */
export const LOCAL_PORT_BASE = 29092;
/**
 * 127.0.0.1 rather than "localhost": the kit's port-forwards bind 127.0.0.1 only (`--address 127.0.0.1`), and a
 * client resolving localhost to ::1 first would depend on falling back to IPv4.
 */
export const LOCAL_HOST = '127.0.0.1';
/** Broker ids are 0..MAX_BROKERS-1; local ports base..base+8. */
export const MAX_BROKERS = 9;
/** The stack's laptop ports for Kafka (its record, stack-record.ts LaptopSlot): base 29092 + 10n in slot n. */
export const KAFKA_LAPTOP_SLOT = { port: (n: number) => LOCAL_PORT_BASE + 10 * n, span: MAX_BROKERS };

export function podName(i: number): string {
  return `${STATEFULSET}-${i}`;
}

/** kafka-0.kafka-headless.learnflow.svc.cluster.local: resolves inside the cluster only. */
export function brokerHost(namespace: string, i: number): string {
  return `${podName(i)}.${HEADLESS_SERVICE}.${namespace}.svc.cluster.local`;
}

/** What in-cluster clients (LearnFlow services, Dapr) put in their bootstrap list. */
export function inClusterBootstrap(namespace: string): string {
  return `${BOOTSTRAP_SERVICE}.${namespace}.svc.cluster.local:${CLIENT_PORT}`;
}

/** The listener settings of broker i (node id i); its LOCAL listener on the stack's laptop port base + i. */
export function brokerListeners(namespace: string, i: number, base: number): { nodeId: number; listeners: string; advertisedListeners: string } {
  return {
    nodeId: i,
    listeners: `PLAINTEXT://:${CLIENT_PORT},CONTROLLER://:${CONTROLLER_PORT},LOCAL://:${base + i}`,
    advertisedListeners: `PLAINTEXT://${brokerHost(namespace, i)}:${CLIENT_PORT},LOCAL://${LOCAL_HOST}:${base + i}`,
  };
}

/** 0@kafka-0.kafka-headless.<ns>.svc.cluster.local:9093,1@... : every broker is a voter. */
export function quorumVoters(namespace: string, brokers: number): string {
  return Array.from({ length: brokers }, (_, i) => `${i}@${brokerHost(namespace, i)}:${CONTROLLER_PORT}`).join(',');
}

/**
 * One port-forward per broker, local port = remote port = base+i, so the address the broker advertises on its
 * LOCAL listener is exactly where the laptop reaches it.
 */
export function portForwardTargets(brokers: number, base: number): (PortForwardTarget & { localPort: number })[] {
  return Array.from({ length: brokers }, (_, i) => ({ resource: `pod/${podName(i)}`, remotePort: base + i, localPort: base + i }));
}

/** The bootstrap list a laptop client uses while the port-forwards run. */
export function localBootstrap(brokers: number, base: number): string[] {
  return portForwardTargets(brokers, base).map((t) => `${LOCAL_HOST}:${t.localPort}`);
}

export interface Replication {
  replicationFactor: number;
  minIsr: number;
}

/** min ISR for a replication factor: 1 while there is no spare replica, else 2 (one broker may be down). */
export function minIsrFor(replicationFactor: number): number {
  return replicationFactor >= 3 ? 2 : 1;
}

/** 1 broker -> 1/1, 2 -> 2/1, 3 or more -> 3/2 (the production layout: 3 replicas, min ISR 2). */
export function replicationFor(brokers: number): Replication {
  const replicationFactor = Math.max(1, Math.min(brokers, 3));
  return { replicationFactor, minIsr: minIsrFor(replicationFactor) };
}

/** The largest message LearnFlow sends (10 MiB): the broker's limit and the Dapr component's maxMessageBytes. */
export const MAX_MESSAGE_BYTES = 10_485_760;

/**
 * The cluster id older kits derived from the namespace: volumes they formatted carry it, so a claim with no recorded
 * id gets it. New stacks get a random one (newClusterId), so another cluster's same-named namespace never passes.
 */
export function clusterIdFor(namespace: string): string {
  return asClusterId(createHash('sha256').update(`learnflow-kit/kafka/${namespace}`).digest().subarray(0, 16));
}

/** A fresh KRaft cluster id: 16 random bytes, as kafka-storage.sh random-uuid makes them. */
export function newClusterId(): string {
  return asClusterId(randomBytes(16));
}

/** 16 bytes as base64url (22 characters), the first kept alphanumeric (an id starting with '-' reads as a flag). */
function asClusterId(bytes: Buffer): string {
  const b = Buffer.from(bytes);
  b[0] = b[0]! & 0x7f;
  return b.toString('base64url');
}

/** On each Kafka claim: the cluster id its volume was formatted with (claims outlive the StatefulSet). */
export const CLUSTER_ID_ANNOTATION = 'learnflow.dev/kafka-cluster-id';

interface StatefulSetEnv {
  spec?: { template?: { spec?: { containers?: { name: string; env?: { name: string; value?: string }[] }[] } } };
}

/** The CLUSTER_ID a deployed Kafka StatefulSet runs with, if it has one. */
export function deployedClusterId(sts: StatefulSetEnv | undefined): string | undefined {
  return sts?.spec?.template?.spec?.containers?.find((c) => c.name === 'kafka')?.env?.find((e) => e.name === 'CLUSTER_ID')?.value;
}

/**
 * The kit's own topic for verify-kafka's round trip: one partition, kept an hour, read by no service. Created by
 * verify when missing (the broker does not auto-create topics).
 */
export const VERIFY_TOPIC = 'learnflow.kit-verify';
export const VERIFY_TOPIC_RETENTION_MS = 3_600_000;
/** Consumer groups of the probes (verify-kafka's, verify-dapr's) start with this; each run's is fresh and deleted after. */
export const PROBE_GROUP_PREFIX = 'learnflow-kit-verify-';
