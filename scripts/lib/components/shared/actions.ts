// A component's deploy as a list of actions: each has the line the plan shows and the work it does. The plan
// (--dry-run) renders the lines, the deploy runs the work and reports each line it ran (steps[].actions), so the
// two are one list and cannot disagree. A plan line is made from the flags alone: a dry-run reads no cluster.

import type { StepCtx } from '../../run/context.js';
import { ensureClusterReachable, ensureDefaultStorageClass } from '../../preflight/checks.js';

export interface Action<S> {
  plan: string;
  run(step: StepCtx, state: S): Promise<void>;
}

/** Drops the actions a run does not take (false, undefined), keeping the order. */
export function actionList<S>(...actions: (Action<S> | false | undefined)[]): Action<S>[] {
  return actions.filter((a): a is Action<S> => Boolean(a));
}

export function planLines<S>(actions: readonly Action<S>[]): string[] {
  return actions.map((a) => a.plan);
}

export async function runActions<S>(step: StepCtx, actions: readonly Action<S>[], state: S): Promise<S> {
  for (const a of actions) {
    step.action(a.plan);
    await a.run(step, state);
  }
  return state;
}

/** The first action of a deploy that keeps data on volumes: done by deploy-all's preflight already, else here. */
export function clusterReady<S>(): Action<S> {
  return {
    plan: 'check the cluster is reachable and has a default StorageClass',
    run: async (step) => {
      if (step.preflighted) return;
      await ensureClusterReachable(step);
      await ensureDefaultStorageClass(step);
    },
  };
}
