// Pod state -> reason and fix (after Skaffold's and DevSpace's diagnostics). Pure: tested on
// recorded `kubectl get pods -o json` fixtures.

export interface PodJson {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount?: number;
  image?: string;
  state?: { waiting?: { reason?: string; message?: string }; running?: object; terminated?: { reason?: string; exitCode?: number; message?: string } };
  lastState?: { terminated?: { reason?: string; exitCode?: number } };
}

export interface PodDiagnosis {
  pod: string;
  ready: boolean;
  /** One line: "Running, ready", "Pending: Unschedulable (0/1 nodes: Insufficient memory)" */
  state: string;
  /** Waiting reason or scheduling reason, when there is one. */
  reason?: string;
  /** Cannot get better by waiting (or only after `graceMs`, see below). */
  terminal: boolean;
  /** Becomes terminal only when it persists this long: pulls and scheduling can recover. */
  graceMs?: number;
  fix?: string;
  docs?: string;
}

const IMAGE_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
/** Transient reasons get this long before we call them terminal (fail fast, but not on a blip). */
export const GRACE_MS = 20_000;

export function diagnosePod(pod: PodJson): PodDiagnosis {
  const name = pod.metadata.name;
  const ns = pod.metadata.namespace ?? 'learnflow';
  const status = pod.status ?? {};
  const phase = status.phase ?? 'Unknown';
  const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const containers = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])];

  if (phase === 'Failed') {
    return {
      pod: name,
      ready: false,
      state: `Failed${status.reason ? `: ${status.reason}` : ''}`,
      reason: status.reason ?? 'Failed',
      terminal: true,
      fix: `kubectl describe pod ${name} -n ${ns}`,
    };
  }

  for (const c of containers) {
    const waiting = c.state?.waiting;
    const reason = waiting?.reason;
    if (!reason || reason === 'ContainerCreating' || reason === 'PodInitializing') continue;
    const msg = waiting?.message ? ` (${firstLine(waiting.message)})` : '';
    if (IMAGE_REASONS.has(reason)) {
      return {
        pod: name,
        ready,
        state: `container ${c.name}: ${reason}${msg}`,
        reason,
        terminal: reason !== 'ErrImagePull',
        graceMs: reason === 'ErrImagePull' ? GRACE_MS : undefined,
        fix: `image ${c.image ?? '?'} cannot be pulled: check the name and the cluster's network, or pre-load it (./scripts/images.mts --help); kubectl describe pod ${name} -n ${ns}`,
        docs: 'imagepullbackoff',
      };
    }
    if (reason === 'CrashLoopBackOff') {
      const oom = c.lastState?.terminated?.reason === 'OOMKilled';
      return {
        pod: name,
        ready,
        state: `container ${c.name}: CrashLoopBackOff${oom ? ' (last exit: OOMKilled)' : ''}, ${c.restartCount ?? 0} restarts`,
        reason: oom ? 'OOMKilled' : reason,
        terminal: true,
        fix: oom
          ? `the container ran out of memory: give the cluster more memory (docs: not-enough-resources)`
          : `kubectl logs ${name} -c ${c.name} -n ${ns} --previous`,
        docs: oom ? 'oomkilled' : 'crashloopbackoff',
      };
    }
    if (reason === 'CreateContainerConfigError' || reason === 'CreateContainerError' || reason === 'RunContainerError') {
      return {
        pod: name,
        ready,
        state: `container ${c.name}: ${reason}${msg}`,
        reason,
        terminal: true,
        fix: `kubectl describe pod ${name} -n ${ns}`,
        docs: 'crashloopbackoff',
      };
    }
    return { pod: name, ready, state: `container ${c.name}: ${reason}${msg}`, reason, terminal: false };
  }

  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const message = scheduled.message ?? '';
    const pvc = /PersistentVolumeClaim|volume node affinity|persistentvolumeclaim/i.test(message);
    return {
      pod: name,
      ready: false,
      state: `Pending: Unschedulable (${firstLine(message)})`,
      reason: 'Unschedulable',
      terminal: false,
      graceMs: GRACE_MS,
      fix: pvc
        ? `its PersistentVolumeClaim is not bound: kubectl get pvc -n ${ns}; kubectl get storageclass (one must be marked (default))`
        : /Insufficient (memory|cpu)/i.test(message)
          ? 'the nodes do not have enough free CPU or memory for it: give the cluster more (e.g. minikube start --cpus 4 --memory 8g) or free some'
          : `kubectl describe pod ${name} -n ${ns}`,
      docs: pvc ? 'pvc-pending' : 'not-enough-resources',
    };
  }

  const restarts = containers.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  const parts = [phase, ready ? 'ready' : 'not ready'];
  if (restarts > 0) parts.push(`${restarts} restarts`);
  if (pod.metadata.deletionTimestamp) parts.push('terminating');
  return { pod: name, ready, state: parts.join(', '), terminal: false };
}

function firstLine(s: string): string {
  const line = s.split('\n')[0]!.trim();
  return line.length > 160 ? line.slice(0, 157) + '...' : line;
}
