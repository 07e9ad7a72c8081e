// The registry: the components the master scripts run, in deploy order. Dapr's components need Kafka and
// PostgreSQL up (daprd fails on a component that cannot initialise), so Dapr goes last. A new component is a folder
// beside these and one entry here (and its two entry scripts, scripts/<deploy>.mts and scripts/<verify>.mts).

import type { Component, ComponentName } from './types.js';
import { daprComponent } from './dapr/index.js';
import { kafka } from './kafka/index.js';
import { postgres } from './postgres/index.js';

/** Dapr waits for the components of its dependsOn: it finds them here (given, not imported: this file imports Dapr). */
const dapr = daprComponent((name) => COMPONENTS[name]);

export const COMPONENTS: Readonly<Record<ComponentName, Component>> = { kafka, postgres, dapr };

/**
 * Deploy stages from the components' dependsOn: each stage holds what depends only on earlier stages (kafka and
 * postgres together, then dapr). --sequential: one at a time, in order.
 */
export function deployStages(selected: readonly ComponentName[], sequential: boolean, all: Readonly<Record<ComponentName, Component>>): ComponentName[][] {
  const order = Object.keys(all).filter((n) => selected.includes(n));
  if (sequential) return order.map((n) => [n]);
  const stages: ComponentName[][] = [];
  const placed = new Set<ComponentName>();
  let left = [...order];
  while (left.length) {
    const ready = left.filter((n) => (all[n]?.dependsOn ?? []).every((d) => placed.has(d) || !selected.includes(d)));
    if (!ready.length) throw new Error(`components depend on each other in a circle: ${left.join(', ')}`);
    stages.push(ready);
    for (const n of ready) placed.add(n);
    left = left.filter((n) => !ready.includes(n));
  }
  return stages;
}
