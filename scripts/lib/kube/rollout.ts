// Waits for a StatefulSet or Deployment to be ready, failing fast on pod states that will not
// heal (ImagePullBackOff, CrashLoopBackOff, unschedulable) and naming each pod's state on timeout.

import type { StepCtx } from './context.js';
import { diagnosePod, type PodDiagnosis, type PodJson } from './pod-diagnosis.js';
import { errorMessage, indent, StepError } from '../core/errors.js';
import { waitFor } from '../core/wait.js';

export interface WorkloadRef {
  kind: 'statefulset' | 'deployment';
  name: string;
  /** Selects the workload AND its pods (both carry these labels). */
  selector: string;
  namespace?: string;
}

interface WorkloadJson {
  kind: string;
  metadata: { name: string; generation?: number };
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

export async function waitForWorkload(step: StepCtx, ref: WorkloadRef): Promise<void> {
  const ns = ref.namespace ?? step.config.namespace;
  const tracker = new TerminalTracker(() => step.clock.now());
  await waitFor({
    what: `${ref.kind}/${ref.name} in ${ns} to be ready`,
    clock: step.clock,
    deadline: step.deadline,
    log: step.log,
    signal: step.signal,
    probe: async ({ first }) => {
      // The first look may be the run's snapshot (a re-run that changed nothing is ready at once); later ones are not.
      const items = await step.kube.list<WorkloadJson | PodJson>(`${ref.kind},pod`, { namespace: ns, selector: ref.selector, fresh: !first });
      const workload = items.find((i): i is WorkloadJson => (i as WorkloadJson).kind?.toLowerCase() === ref.kind && i.metadata.name === ref.name);
      const pods = items.filter((i): i is PodJson => (i as { kind?: string }).kind === 'Pod').map(diagnosePod);
      if (!workload) return { done: false, state: `${ref.kind}/${ref.name} not found yet` };
      const w = workloadReady(workload);
      const podStates = pods.map((p) => `${p.pod}: ${p.state}`).join('; ');
      const state = `${w.state}${podStates ? ` (${podStates})` : ''}`;
      if (w.ready) return { done: true, state };
      const stuck = pods.find((p) => tracker.terminal(p));
      if (stuck) {
        const logs = stuck.crashedContainer ? await lastLogLines(step, ns, stuck.pod, stuck.crashedContainer) : '';
        return {
          done: false,
          state,
          terminal: new StepError(`${ref.kind}/${ref.name} cannot become ready: pod ${stuck.pod} is ${stuck.state}${logs}`, {
            fix: stuck.fix,
            docs: stuck.docs,
          }),
        };
      }
      return { done: false, state };
    },
  });
}

export const CRASH_LOG_LINES = 5;

/** The crashed run's last lines, in the container's own words, under the error; empty when there are none to get. */
export async function lastLogLines(step: StepCtx, ns: string, pod: string, container: string): Promise<string> {
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
