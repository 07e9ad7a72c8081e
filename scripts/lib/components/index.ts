// The components the master scripts run, in deploy order. Dapr's components need Kafka and
// PostgreSQL up (daprd fails on a component that cannot initialise), so Dapr goes last.

import type { ComponentName } from '../budget.js';
import type { Component } from './types.js';
import { dapr } from './dapr/index.js';
import { kafka } from './kafka/index.js';
import { postgres } from './postgres/index.js';

export const COMPONENTS: Readonly<Partial<Record<ComponentName, Component>>> = { kafka, postgres, dapr };

export const COMPONENT_NAMES: readonly ComponentName[] = ['kafka', 'postgres', 'dapr'];

/** Deploy stages: kafka and postgres are independent and run together; dapr needs both. */
export function deployStages(selected: readonly ComponentName[], sequential: boolean): ComponentName[][] {
  const order = COMPONENT_NAMES.filter((n) => selected.includes(n));
  if (sequential) return order.map((n) => [n]);
  const first = order.filter((n) => n !== 'dapr');
  return [first, ...(order.includes('dapr') ? [['dapr' as const]] : [])].filter((s) => s.length > 0);
}
