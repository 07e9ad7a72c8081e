// The stack's record in the cluster: one ConfigMap per stack (learnflow-stack in its namespace) holding what belongs
// to the stack and must be the same for every run and every script: the laptop ports its port-forwards use and its
// brokers advertise. A deploy writes it with its first change; deploy, verify, status and port-forward read it.
//
// The first stack on a cluster gets 127.0.0.1:5432 and 29092 (+i for broker i), as the kit always gave; another
// stack gets the next free slot, so two stacks can be forwarded at once.

import { perRun, type Ctx } from '../../run/context.js';
import { errorMessage } from '../../core/errors.js';
import { MANAGED_BY, MANAGED_BY_LABEL, type Manifest } from '../../kube/manifests.js';
import { LOCAL_PORT_BASE, MAX_BROKERS } from './kafka-topology.js';

export const STACK_RECORD = 'learnflow-stack';
/** On every stack's record: one cluster-wide list finds the ports the other stacks hold. */
export const RECORD_LABEL = 'learnflow.dev/stack-record';
const RECORD_KEY = 'stack.json';

/** Where a stack is reached from the laptop: PostgreSQL on `postgres`, broker i on `kafka` + i. */
export interface LaptopPorts {
  postgres: number;
  kafka: number;
}

export interface StackRecord {
  version: 1;
  laptopPorts: LaptopPorts;
}

/** Slot 0: the ports of the first stack (and of every stack an older kit deployed). Slot n: PostgreSQL 15431+n, Kafka 29092+10n. */
export function portsOfSlot(n: number): LaptopPorts {
  return n === 0 ? { postgres: 5432, kafka: LOCAL_PORT_BASE } : { postgres: 15431 + n, kafka: LOCAL_PORT_BASE + 10 * n };
}

const FIRST_STACK = portsOfSlot(0);

function overlaps(a: LaptopPorts, b: LaptopPorts): boolean {
  return a.postgres === b.postgres || Math.abs(a.kafka - b.kafka) < MAX_BROKERS;
}

/** The first slot none of `taken` overlaps. Pure. */
export function choosePorts(taken: readonly LaptopPorts[]): LaptopPorts {
  for (let n = 0; ; n++) {
    const ports = portsOfSlot(n);
    if (!taken.some((t) => overlaps(t, ports))) return ports;
  }
}

export function renderStackRecord(namespace: string, ports: LaptopPorts): Manifest {
  const record: StackRecord = { version: 1, laptopPorts: ports };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: STACK_RECORD,
      namespace,
      labels: { 'app.kubernetes.io/part-of': 'learnflow', 'app.kubernetes.io/component': 'stack', [RECORD_LABEL]: 'true' },
    },
    data: { [RECORD_KEY]: JSON.stringify(record) },
  };
}

type ConfigMapJson = { metadata: { name: string; namespace?: string }; data?: Record<string, string> };

/** The record a ConfigMap holds; undefined for one that is not (or no longer) readable. */
export function parseStackRecord(cm: ConfigMapJson | undefined): StackRecord | undefined {
  try {
    const r = JSON.parse(cm?.data?.[RECORD_KEY] ?? '') as Partial<StackRecord>;
    const p = r.laptopPorts;
    return r.version === 1 && p && Number.isInteger(p.postgres) && Number.isInteger(p.kafka) ? (r as StackRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stack's laptop ports, read once per run: its record's, else the first slot no other stack holds (a stack an
 * older kit deployed, found by its StatefulSets, holds the first). With no cluster (--dry-run, --no-cluster): the
 * first stack's. Reads only; a deploy writes them with renderStackRecord.
 */
export function laptopPorts(ctx: Ctx): Promise<LaptopPorts> {
  if (ctx.config.dryRun || ctx.config.noCluster) return Promise.resolve(FIRST_STACK);
  return perRun(ctx, 'laptop ports', async () => {
    const ns = ctx.config.namespace;
    const own = parseStackRecord(await ctx.kube.getOptional<ConfigMapJson>('configmap', STACK_RECORD));
    if (own) return own.laptopPorts;
    return choosePorts(await portsOfOtherStacks(ctx, ns));
  });
}

async function portsOfOtherStacks(ctx: Ctx, namespace: string): Promise<LaptopPorts[]> {
  const [records, workloads] = await Promise.all([
    ctx.kube.list<ConfigMapJson>('configmap', { namespace: null, selector: RECORD_LABEL }).catch((err: unknown) => {
      ctx.log.warn(`could not list the other stacks' records (${errorMessage(err).split('\n')[0]}): assuming no other stack holds laptop ports`);
      return [];
    }),
    ctx.kube.list<{ metadata: { name: string; namespace?: string } }>('statefulset', { namespace: null, selector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }),
  ]);
  const recorded = new Map(records.map((cm) => [cm.metadata.namespace, parseStackRecord(cm)?.laptopPorts]));
  const stacks = new Set([...recorded.keys(), ...workloads.map((w) => w.metadata.namespace)]);
  stacks.delete(namespace);
  return [...stacks].map((ns) => recorded.get(ns) ?? FIRST_STACK);
}
