// A component is a module: { name, budget, plan, deploy, verify }. The standalone scripts and the
// master scripts are thin entry points over these.

import type { ComponentName } from '../budget.js';
import type { Ctx, StepCtx } from '../context.js';
import type { FlagSpec } from '../flags.js';
import type { Manifest } from '../manifests.js';

export interface Plan {
  /** What deploy would do, in order, one line each. */
  actions: string[];
  /** Rendered manifests, secrets redacted. */
  manifests: Manifest[];
}

export interface Component {
  name: ComponentName;
  title: string;
  /** --help text of its standalone deploy and verify scripts. */
  summaries: { deploy: string; verify: string };
  /** Flags this component's scripts take besides the common ones. */
  deployFlags: readonly FlagSpec[];
  verifyFlags: readonly FlagSpec[];
  /** Local only: no cluster, no network. Used by --dry-run and by preflight's capacity check. */
  plan(ctx: Ctx): Promise<Plan>;
  deploy(step: StepCtx): Promise<void>;
  /** Records every check with step.check(); throws only when it cannot go on at all. */
  verify(step: StepCtx): Promise<void>;
  /** Removes what deploy created. Keeps the data (claims, and the Secrets the data needs) unless purge. */
  destroy(step: StepCtx, opts: { purge: boolean }): Promise<void>;
  /** Namespaces besides the stack's own that it deploys into (dapr-system). */
  extraNamespaces?: readonly string[];
  /** Images pulled that plan() manifests do not show (a Helm chart's, a verify Job's), for scripts/images.mts. */
  images?(ctx: Ctx): string[];
  /** Requests not visible in plan() manifests (a Helm chart's pods), for the capacity check. */
  extraRequests?: { cpuMillis: number; memoryBytes: number };
}
