// One context carries config, exec, logger, clock and cleanup. Steps get it; nothing is global.

import path from 'node:path';
import { Deadline } from '../core/budget.js';
import type { Clock } from '../core/clock.js';
import type { KitConfig } from '../core/config.js';
import { errorMessage } from '../core/errors.js';
import type { Exec } from '../core/exec.js';
import { Kube } from '../kube/kubectl.js';
import type { Logger, SecretRegistry } from '../core/log.js';
import { REPO_ROOT } from '../core/repo.js';
import type { ApplyOutcome } from '../kube/kubectl.js';
import type { Check } from '../core/report.js';

/** Last in, first out: port-forwards and probes opened during a run are closed whatever happens. */
export class Cleanup {
  private readonly stack: { what: string; fn: () => Promise<void> | void }[] = [];
  defer(what: string, fn: () => Promise<void> | void): void {
    this.stack.push({ what, fn });
  }
  async run(log?: Logger): Promise<void> {
    while (this.stack.length) {
      const { what, fn } = this.stack.pop()!;
      try {
        await fn();
      } catch (err) {
        log?.warn(`cleanup of ${what} failed: ${errorMessage(err)}`);
      }
    }
  }
}

export interface Ctx {
  config: KitConfig;
  log: Logger;
  exec: Exec;
  clock: Clock;
  secrets: SecretRegistry;
  kube: Kube;
  cleanup: Cleanup;
  signal: AbortSignal;
  /** Where the kit writes rendered manifests and diagnostics bundles (.learnflow/ in the repo). */
  outDir: string;
  root: string;
  /** Set by the master scripts once their preflight passed, so components skip theirs. */
  preflighted?: boolean;
  /** Builds an exec that logs through a given logger (so a step's commands carry its prefix). */
  execFor?: (log: Logger) => Exec;
}

/** What a step sees: the context plus its deadline and a place to record checks and changes. */
export interface StepCtx extends Ctx {
  deadline: Deadline;
  check(name: string, ok: boolean, detail?: string): Check;
  change(key: string, what: ApplyOutcome | string): void;
  /** A planned action starts (components/shared/actions.ts): recorded in the report as its plan line. */
  action(planLine: string): void;
}

export function createCtx(parts: Omit<Ctx, 'kube' | 'cleanup' | 'outDir' | 'root'> & Partial<Pick<Ctx, 'kube' | 'cleanup' | 'outDir' | 'root'>>): Ctx {
  const root = parts.root ?? REPO_ROOT;
  return {
    ...parts,
    root,
    outDir: parts.outDir ?? path.join(root, '.learnflow'),
    cleanup: parts.cleanup ?? new Cleanup(),
    kube: parts.kube ?? new Kube(parts.exec, parts.config.namespace, parts.config.context),
  };
}

/** What a run reads once and its steps share (keyed by the run's config, which every step of the run carries). */
const perRunReads = new WeakMap<KitConfig, Map<string, Promise<unknown>>>();

export function perRun<T>(ctx: Pick<Ctx, 'config'>, key: string, read: () => Promise<T>): Promise<T> {
  let reads = perRunReads.get(ctx.config);
  if (!reads) perRunReads.set(ctx.config, (reads = new Map()));
  let p = reads.get(key) as Promise<T> | undefined;
  if (!p) reads.set(key, (p = read()));
  return p;
}
