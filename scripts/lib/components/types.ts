// What a component is to the rest of the kit: the `Component` below (required: its name, budget, scripts, flags,
// plan, deploy, verify, status, connect lines and what destroy-all removes; the rest optional). Its standalone
// scripts and deploy-all, verify-all, status, images, destroy-all and port-forward are thin entry points over it.

import type { Ctx, StepCtx } from '../run/context.js';
import type { Flag, FlagSpec } from '../core/flags.js';
import type { LaptopPorts, LaptopSlot } from './shared/stack-record.js';
import type { Manifest } from '../kube/manifests.js';
import type { StatusSection, StatusView } from './shared/status.js';
import type { WorkloadRef } from '../run/rollout.js';
import type { PortForwardTarget } from '../run/port-forward.js';

export interface Plan {
  /** What deploy would do, in order, one line each. */
  actions: string[];
  /** Rendered manifests, secrets redacted. */
  manifests: Manifest[];
}

/** A component's name: its key in COMPONENTS (components/index.ts), e.g. kafka. */
export type ComponentName = string;

export interface Component {
  name: ComponentName;
  title: string;
  /** Its deadline in a deploy or verify, unless --budget says otherwise. */
  budgetMs: number;
  /** Its standalone scripts, scripts/<name>.mts. */
  scripts: { deploy: string; verify: string };
  /** --help text of its standalone deploy and verify scripts. */
  summaries: { deploy: string; verify: string };
  /** Flags this component's scripts take besides the common ones. */
  deployFlags: readonly FlagSpec[];
  verifyFlags: readonly FlagSpec[];
  /** Local only: no cluster, no network. Used by --dry-run and by preflight's capacity check. */
  plan(ctx: Ctx): Promise<Plan>;
  /** Components that must be ready before deploy() (deploy-all runs them in an earlier stage). */
  dependsOn?: readonly ComponentName[];
  /** Its workloads in the stack's namespace that a component depending on it waits for (fix: its deploy script). */
  readiness?: readonly WorkloadRef[];
  /**
   * The part that needs none of `dependsOn` (Dapr's control plane): deploy-all starts it at once, beside them, and
   * then calls deploy() with `prepared`. Its time counts in the component's own.
   */
  prepare?(step: StepCtx): Promise<void>;
  deploy(step: StepCtx, o?: DeployOptions): Promise<void>;
  /**
   * --diff: what deploy would apply now, read from the cluster as deploy reads it (remembered settings, kept
   * passwords and ids) and changing nothing; for a Helm release, the values it would change.
   */
  desired?(step: StepCtx): Promise<Desired>;
  /** Records every check with step.check(); throws only when it cannot go on at all. */
  verify(step: StepCtx): Promise<void>;
  /** status.mts: its section, from what status read once (`view`) and, unless --no-data, its data plane. Read only. */
  status(step: StepCtx, view: StatusView, o: { data: boolean }): Promise<StatusSection>;
  /** The end of deploy-all: how to reach it, from what the run knows (the stack's laptop ports from its record). */
  connect(namespace: string, ctx: Pick<Ctx, 'root'>, ports: LaptopPorts): string[];
  /**
   * What destroy-all removes of it in the stack's namespace: kinds and a label selector, always narrowed to the
   * ownership labels (manifests.ts ownedSelector), so nothing the kit did not create matches. `data` selections
   * (claims, the Secrets their data needs) go only with --purge.
   */
  owned: readonly OwnedObjects[];
  /** Kinds users create beside it in the namespace (Dapr's Subscription): destroy-all --purge keeps a namespace holding any. */
  userKinds?: readonly string[];
  /** --dry-run only: objects applied by another tool (a Helm chart's), rendered when that tool can do it offline. */
  renderExtra?(ctx: Ctx): Promise<{ title: string; yaml: string } | { title: string; skipped: string } | undefined>;
  /** Something outside the stack's namespace it may remove (Dapr's control plane), decided by its own rules. */
  clusterWide?: ClusterWide;
  /** Nothing of it works without a cluster (Dapr): --no-cluster runs report it skipped, never ok. */
  clusterOnly?: boolean;
  /** Helm releases it installs, for the diagnostics bundle (helm status). */
  helmReleases?: readonly { name: string; namespace: string }[];
  /** Namespaces besides the stack's own that it deploys into (dapr-system). */
  extraNamespaces?: readonly string[];
  /** Images pulled that plan() manifests do not show (a Helm chart's, a verify Job's), for scripts/images.mts. */
  images?(ctx: Ctx): (string | ImageUse)[];
  /** Its deploy flags that change the images it pulls, described for scripts/images.mts (Dapr: --with-redis). */
  imageFlags?: readonly FlagSpec[];
  /** Requests not visible in plan() manifests (a Helm chart's pods), for the capacity check. */
  extraRequests?(ctx: Ctx): { cpuMillis: number; memoryBytes: number };
  /** What scripts/port-forward.mts keeps open to it from the laptop (--only takes the names of those that have it). */
  forwards?: Forwards;
}

/** One forward the port-forward supervisor keeps up on a fixed local port: postgresql, kafka-0, ... */
export interface Forward extends PortForwardTarget {
  name: string;
  localPort: number;
}

/** A component's port-forwards, from the stack's laptop port for it (its record, shared/stack-record.ts). */
export interface Forwards {
  /** Its laptop ports slot by slot; start lists the components in the order of their first stack's port. */
  slot: LaptopSlot;
  /** --help of start: what it forwards on the first stack's ports. */
  help: string;
  /** What start looks up in the stack's namespace (service/postgresql), for the plan and "nothing to forward". */
  lookup: string;
  /** A flag of its own that moves its local port (PostgreSQL: --pg-port). */
  portFlag?: Flag<'int'>;
  /** The forwards for what is deployed, from its local port; none, with a warning saying why, when it is not. */
  resolve(ctx: Ctx, port: number): Promise<Forward[]>;
  /** start --dry-run: what start would keep up, a line each; `port` is its portFlag's value when given. */
  plan(port: number | undefined): string[];
  /** Whether 127.0.0.1:port answers as its server: a word of its protocol (a TCP connect only proves kubectl listens). */
  probe(port: number): Promise<{ answers: boolean; detail: string }>;
  /** How to connect through its forwards (their local ports), printed after the status table. */
  hints(namespace: string, ports: number[]): string[];
  /** One of its local ports is taken: a guess at what holds it (appended to the message) and the fix. */
  portTaken(f: Forward): { guess?: string; fix: string };
}

/** An image and where it comes from, as scripts/images.mts lists it. */
export interface ImageUse {
  image: string;
  source: string;
}

export interface Desired {
  manifests: Manifest[];
  /** Lines describing what a Helm upgrade would change; empty when the release is up to date. */
  release?: { title: string; changes: string[] };
  /** What a deploy would do beyond applying the objects (a version upgrade's roll); counts as a change. */
  actions?: string[];
}

export interface OwnedObjects {
  kinds: string;
  selector: string;
  /** Kept without --purge, with this reason. */
  data?: string;
}

/** A cluster-wide removal as planned (dry-run and real run print the same). */
export interface ClusterWidePlan {
  title: string;
  remove: boolean;
  why: string;
  /** What goes when `remove`, one line each. */
  objects: string[];
}

export interface ClusterWide {
  plan(ctx: Ctx, o: { purge: boolean; force: boolean }): Promise<ClusterWidePlan>;
  remove(step: StepCtx, plan: ClusterWidePlan, o: { purge: boolean }): Promise<void>;
  /** The flag that forces the removal, for --help and messages. */
  forceFlag: Flag<'boolean'>;
}

export interface DeployOptions {
  /** prepare() ran in this run and succeeded. */
  prepared?: boolean;
  /** Every component of dependsOn was deployed and is ready in this run (no need to check them again). */
  dependenciesReady?: boolean;
}
