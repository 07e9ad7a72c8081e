// Waits for StatefulSets and Deployments, or one pod, to be ready, failing fast on pod states that will not heal
// (ImagePullBackOff, CrashLoopBackOff, unschedulable) and naming each pod's state on timeout.

import type { StepCtx } from './context.js';
import { diagnosePod, type PodDiagnosis, type PodJson } from '../kube/pod-diagnosis.js';
import { errorMessage, indent, StepError } from '../core/errors.js';
import { waitFor, type WaitOptions as PollOptions } from '../core/wait.js';
import { labelSelectorMatches } from '../kube/selector.js';

export interface WorkloadRef {
  kind: 'statefulset' | 'deployment';
  name: string;
  /** Selects the workload AND its pods (both carry these labels). */
  selector: string;
  namespace?: string;
}

export interface WorkloadJson {
  kind: string;
  metadata: { name: string; generation?: number; labels?: Record<string, string> };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

export function workloadReady(w: WorkloadJson): { ready: boolean; state: string } {
  const want = w.spec?.replicas ?? 1;
  const s = w.status ?? {};
  const ready = s.readyReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  const observed = (s.observedGeneration ?? 0) >= (w.metadata.generation ?? 0);
  const revisionDone = w.kind !== 'StatefulSet' || !s.updateRevision || s.currentRevision === s.updateRevision || updated >= want;
  return {
    ready: observed && ready >= want && updated >= want && revisionDone && (s.replicas ?? want) <= want,
    state: `${ready}/${want} ready, ${updated}/${want} updated`,
  };
}

/** Terminal reasons that only count once they have persisted (pulls, scheduling) need memory. */
export class TerminalTracker {
  private readonly firstSeen = new Map<string, number>();
  constructor(private readonly now: () => number) {}
  terminal(d: PodDiagnosis): boolean {
    if (d.terminal) return true;
    if (!d.graceMs || !d.reason) return false;
    const key = `${d.pod}/${d.reason}`;
    const first = this.firstSeen.get(key) ?? this.now();
    this.firstSeen.set(key, first);
    return this.now() - first >= d.graceMs;
  }
}

/** A workload as a readiness wait sees it: found or not, ready or not, and its pods' states in words. */
export interface WorkloadState<R extends WorkloadRef = WorkloadRef> {
  ref: R;
  present: boolean;
  ready: boolean;
  state: string;
}

/** Readiness of each workload from one list of workloads and pods (each pod counted for the workloads it selects). */
export function workloadStates<R extends WorkloadRef>(
  items: readonly (WorkloadJson | PodJson)[],
  refs: readonly R[],
  o: { listedBySelector?: boolean } = {},
): { states: WorkloadState<R>[]; pods: PodDiagnosis[] } {
  // A list made with the one workload's own selector holds only its pods.
  const ofRef = (ref: R, labels?: Record<string, string>) => o.listedBySelector || labelSelectorMatches(ref.selector, labels ?? {}) === true;
  const rawPods = items.filter((i): i is PodJson => (i as { kind?: string }).kind === 'Pod');
  const pods = rawPods.map((p) => ({ labels: p.metadata.labels, d: diagnosePod(p) }));
  const states = refs.map((ref) => {
    const w = items.find((i): i is WorkloadJson => (i as WorkloadJson).kind?.toLowerCase() === ref.kind && i.metadata.name === ref.name);
    if (!w) return { ref, present: false, ready: false, state: `${ref.kind}/${ref.name} not found` };
    const r = workloadReady(w);
    const mine = pods.filter((p) => ofRef(ref, p.labels)).map((p) => `${p.d.pod}: ${p.d.state}`);
    return { ref, present: true, ready: r.ready, state: `${r.state}${mine.length ? ` (${mine.join('; ')})` : ''}` };
  });
  return { states, pods: pods.filter((p) => refs.some((r) => ofRef(r, p.labels))).map((p) => p.d) };
}

export interface WaitOptions<R extends WorkloadRef> {
  /** For the log and the timeout message. */
  what: string;
  /** The one list each look makes (the first may come from the run's snapshot). */
  list: { kinds: string; namespace: string; selector?: string };
  /** The error when a pod is in a state that will not heal (default: the workload cannot become ready). */
  stuck?: (pod: PodDiagnosis, states: WorkloadState<R>[], logs: string) => StepError;
  /** An error to stop at once on, from what a look saw (a dependency not deployed at all). */
  refuse?: (states: WorkloadState<R>[]) => StepError | undefined;
}

/** The readiness wait for workloads, all of `refs` together; a pod stuck for good ends it with its last log lines. */
export async function waitForWorkloads<R extends WorkloadRef>(step: StepCtx, refs: readonly R[], o: WaitOptions<R>): Promise<WorkloadState<R>[]> {
  const tracker = new TerminalTracker(() => step.clock.now());
  let last: WorkloadState<R>[] = [];
  await waitInStep(step, {
    what: o.what,
    probe: async ({ first }) => {
      // The first look may be the run's snapshot (a re-run that changed nothing is ready at once); later ones are not.
      const items = await step.kube.list<WorkloadJson | PodJson>(o.list.kinds, { namespace: o.list.namespace, selector: o.list.selector, fresh: !first });
      const { states, pods } = workloadStates(items, refs, { listedBySelector: refs.length === 1 && o.list.selector === refs[0]!.selector });
      last = states;
      const waiting = states.filter((s) => !s.ready);
      const state =
        refs.length === 1
          ? states[0]!.state
          : waiting.length
            ? `not ready: ${waiting.map((s) => `${s.ref.name} ${s.state}`).join('; ')}`
            : `${states.length} ready`;
      if (!waiting.length) return { done: true, state };
      const refused = o.refuse?.(states);
      if (refused) return { done: false, state, terminal: refused };
      const stuck = pods.find((p) => tracker.terminal(p));
      if (!stuck) return { done: false, state };
      const logs = await lastLogLines(step, o.list.namespace, stuck);
      const terminal =
        o.stuck?.(stuck, states, logs) ??
        new StepError(`${refs.map((r) => `${r.kind}/${r.name}`).join(', ')} cannot become ready: pod ${stuck.pod} is ${stuck.state}${logs}`, {
          fix: stuck.fix,
          docs: stuck.docs,
        });
      return { done: false, state, terminal };
    },
  });
  return last;
}

/**
 * One pod by name ready: a StatefulSet rolled a pod at a time, a one-off pod. `pending` says why a ready pod does not
 * count yet (another revision); a pod stuck for good ends the wait with `stuck`'s error.
 */
export async function waitForPod(
  step: StepCtx,
  name: string,
  o: {
    what: string;
    /** The one list each look makes: the pod and what `pending` reads beside it. */
    list: { kinds: string; selector: string };
    pending?: (pod: PodJson, items: readonly WorkloadJson[]) => string | undefined;
    stuck: (pod: PodDiagnosis, logs: string) => StepError;
  },
): Promise<void> {
  const ns = step.config.namespace;
  const tracker = new TerminalTracker(() => step.clock.now());
  await waitInStep(step, {
    what: o.what,
    probe: async () => {
      const items = await step.kube.list<WorkloadJson | PodJson>(o.list.kinds, { namespace: ns, selector: o.list.selector, fresh: true });
      const pod = items.find((i): i is PodJson => (i as { kind?: string }).kind === 'Pod' && i.metadata.name === name);
      if (!pod) return { done: false, state: `${name} not created yet` };
      const d = diagnosePod(pod);
      const pending = o.pending?.(pod, items as WorkloadJson[]);
      if (pending) return { done: false, state: `${pending} (${d.state})` };
      if (d.ready) return { done: true, state: d.state };
      if (!tracker.terminal(d)) return { done: false, state: d.state };
      return { done: false, state: d.state, terminal: o.stuck(d, await lastLogLines(step, ns, d)) };
    },
  });
}

/** waitFor within the step: its clock, deadline, log and interruption. */
export function waitInStep<T>(step: StepCtx, o: Omit<PollOptions<T>, 'clock' | 'deadline' | 'log' | 'signal'>): Promise<T> {
  return waitFor({ clock: step.clock, deadline: step.deadline, log: step.log, signal: step.signal, ...o });
}

export async function waitForWorkload(step: StepCtx, ref: WorkloadRef): Promise<void> {
  const namespace = ref.namespace ?? step.config.namespace;
  await waitForWorkloads(step, [ref], {
    what: `${ref.kind}/${ref.name} in ${namespace} to be ready`,
    list: { kinds: `${ref.kind},pod`, namespace, selector: ref.selector },
  });
}

export const CRASH_LOG_LINES = 5;

/** The crashed run's last lines, to go under the error; empty when there are none. */
export async function lastLogLines(step: StepCtx, ns: string, { pod, crashedContainer: container }: PodDiagnosis): Promise<string> {
  if (!container) return '';
  const args = ['logs', pod, '-c', container, '-n', ns, '--previous', `--tail=${CRASH_LOG_LINES}`];
  try {
    const r = await step.kube.run(args, { quiet: true, allowFailure: true, timeoutMs: 10_000 });
    const text = r.stdout.trimEnd();
    if (r.exitCode !== 0 || !text) return '';
    return `\nits last log lines (kubectl ${args.join(' ')}):\n${indent(step.secrets.scrub(text))}`;
  } catch (err) {
    step.log.debug(`no previous logs for ${pod}/${container}: ${errorMessage(err)}`);
    return '';
  }
}
