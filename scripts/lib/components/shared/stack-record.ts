// The stack's record in the cluster: one ConfigMap per stack (learnflow-stack in its namespace) holding what belongs
// to the stack and must be the same for every run and every script: the laptop ports its port-forwards use and its
// brokers advertise. A deploy writes it with its first change; deploy, verify, status and port-forward read it.
//
// The first stack on a cluster gets 127.0.0.1:5432 and 29092 (+i for broker i), as the kit always gave; another
// stack gets the next free slot, so two stacks can be forwarded at once. A component's slot is its forwards' own
// (Component.forwards.slot); the record holds PostgreSQL's and Kafka's ports, and another component that forwards
// takes its port of the slot they name.

import { perRun, type Ctx } from '../../run/context.js';
import { errorMessage } from '../../core/errors.js';
import { MANAGED_BY, MANAGED_BY_LABEL, type Manifest } from '../../kube/manifests.js';
import { KAFKA_LAPTOP_SLOT } from './kafka-topology.js';
import { PG_LAPTOP_SLOT } from './postgres-topology.js';

export const STACK_RECORD = 'learnflow-stack';
/** On every stack's record: one cluster-wide list finds the ports the other stacks hold. */
export const RECORD_LABEL = 'learnflow.dev/stack-record';
const RECORD_KEY = 'stack.json';

/** A component's laptop ports: slot n's first port (slot 0: the first stack's), and how many from there it uses. */
export interface LaptopSlot {
  port(n: number): number;
  span: number;
}

/** The components whose laptop ports a record holds, by name: the keys of its JSON (version 1: postgres and kafka). */
const SLOTS = { postgres: PG_LAPTOP_SLOT, kafka: KAFKA_LAPTOP_SLOT } satisfies Record<string, LaptopSlot>;

/** Where a stack is reached from the laptop, by component: PostgreSQL on `postgres`, broker i on `kafka` + i. */
export type LaptopPorts = Readonly<Record<keyof typeof SLOTS, number>>;

export interface StackRecord {
  version: 1;
  laptopPorts: LaptopPorts;
}

/** Slot 0: the ports of the first stack (and of every stack an older kit deployed). Slot n: PostgreSQL 15431+n, Kafka 29092+10n. */
export function portsOfSlot(n: number): LaptopPorts {
  return Object.fromEntries(Object.entries(SLOTS).map(([name, slot]) => [name, slot.port(n)])) as LaptopPorts;
}

const portIn = (ports: LaptopPorts, name: string) => (ports as Readonly<Record<string, number | undefined>>)[name];

/**
 * A component's first laptop port in a stack with these ports: the recorded one, else (a component the record does not
 * hold) its port of the slot the record's ports are (the first stack's when none is, as for ports set by hand).
 */
export function laptopPortOf(ports: LaptopPorts, name: string, slot: LaptopSlot): number {
  const recorded = portIn(ports, name);
  if (recorded !== undefined) return recorded;
  // The slot whose ports the record holds, looked for among the first thousand (far more stacks than a cluster holds).
  const n = [...Array(1000).keys()].find((i) => Object.entries(SLOTS).every(([other, s]) => s.port(i) === portIn(ports, other)));
  return slot.port(n ?? 0);
}

const FIRST_STACK = portsOfSlot(0);

/** Two stacks meet when a component's ports of one fall within the other's span (Kafka: up to 9 brokers). */
function overlaps(a: LaptopPorts, b: LaptopPorts): boolean {
  return Object.entries(SLOTS).some(([name, slot]) => Math.abs(portIn(a, name)! - portIn(b, name)!) < slot.span);
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
    return r.version === 1 && p && Object.keys(SLOTS).every((name) => Number.isInteger(portIn(p as LaptopPorts, name))) ? (r as StackRecord) : undefined;
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
