// Pod state -> reason and fix (after Skaffold's and DevSpace's diagnostics); tested on recorded
// `kubectl get pods -o json` fixtures.

import { quantityBytes } from './quantity.js';

export interface PodJson {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string; containers?: ContainerSpec[]; initContainers?: ContainerSpec[] };
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

export interface ContainerSpec {
  name: string;
  resources?: { limits?: { memory?: string }; requests?: { memory?: string } };
  env?: { name: string; value?: string }[];
}

export interface PodDiagnosis {
  pod: string;
  ready: boolean;
  /** One line: "Running, ready", "Pending: Unschedulable (0/1 nodes: Insufficient memory)" */
  state: string;
  /** Waiting reason or scheduling reason, when there is one. */
  reason?: string;
  /** Cannot get better by waiting (or only after `graceMs`). */
  terminal: boolean;
  /** Becomes terminal only when it persists this long: pulls and scheduling can recover. */
  graceMs?: number;
  fix?: string;
  docs?: string;
  /** The container whose previous run's last log lines say why (it crashed or was killed). */
  crashedContainer?: string;
}

/** The pod's Ready condition is True: the one test of "ready" the kit uses. */
export function podReady(pod: { status?: { conditions?: readonly { type: string; status: string }[] } }): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

const IMAGE_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
/** Transient reasons get this long before we call them terminal (fail fast, but not on a blip). */
export const GRACE_MS = 20_000;
/**
 * A claim not bound yet gets longer: the volume binder retries on its resync period (kube-controller-manager
 * --pvclaimbinder-sync-period, 15 s) and a dynamic provisioner may take a while to make the volume.
 */
export const UNBOUND_CLAIM_GRACE_MS = 60_000;
/** A pod the kubelet failed to start for a passing reason: it tries again every 10 to 15 s (kubelet.go backOffPeriod, jittered). */
export const KUBELET_RETRY_GRACE_MS = 60_000;

export function diagnosePod(pod: PodJson): PodDiagnosis {
  const name = pod.metadata.name;
  const ns = pod.metadata.namespace ?? 'learnflow';
  const status = pod.status ?? {};
  const phase = status.phase ?? 'Unknown';
  const ready = podReady(pod);
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
      const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((s) => s.name === c.name);
      return {
        pod: name,
        ready,
        state: `container ${c.name}: CrashLoopBackOff${oom ? ' (last exit: OOMKilled)' : ''}, ${c.restartCount ?? 0} restarts`,
        reason: oom ? 'OOMKilled' : reason,
        terminal: true,
        fix: oom ? oomFix(c.name, ns, spec) : `kubectl logs ${name} -c ${c.name} -n ${ns} --previous`,
        docs: oom ? 'oomkilled' : 'crashloopbackoff',
        crashedContainer: c.name,
      };
    }
    if (reason === 'CreateContainerConfigError' || reason === 'CreateContainerError' || reason === 'RunContainerError') {
      // The kubelet gives a new pod's Secret and ConfigMap watches 1 s to sync, reports "failed to sync secret
      // cache" if they have not, and retries the pod: on a busy node that passes. A missing Secret stays terminal.
      const slowCache = reason === 'CreateContainerConfigError' && /failed to sync \S+ cache/.test(waiting?.message ?? '');
      return {
        pod: name,
        ready,
        state: `container ${c.name}: ${reason}${msg}`,
        reason,
        terminal: !slowCache,
        graceMs: slowCache ? KUBELET_RETRY_GRACE_MS : undefined,
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
      graceMs: pvc ? UNBOUND_CLAIM_GRACE_MS : GRACE_MS,
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

/**
 * OOMKilled is the container's cgroup at its limit, the container's own limit unless the node ran out first: name
 * the limit, and for a JVM the heap it was given, since a heap at or above the limit is the usual cause.
 */
function oomFix(container: string, ns: string, spec: ContainerSpec | undefined): string {
  const limit = spec?.resources?.limits?.memory;
  if (!limit) return `container ${container} has no memory limit, so the node ran out of memory: give the cluster more memory (docs: not-enough-resources)`;
  const heap = jvmMaxHeap(spec?.env ?? []);
  const limitBytes = quantityBytes(limit);
  if (heap && limitBytes !== undefined && heap.bytes > limitBytes * 0.75) {
    return `container ${container} was killed at its own memory limit: its JVM heap (${heap.flag}, from ${heap.from}) does not fit in its limit of ${limit}; keep the heap at half the limit or less. Find what set the limit: kubectl get limitrange -n ${ns}; kubectl get pod -n ${ns} -o yaml | grep -A3 limits:`;
  }
  return `container ${container} was killed for memory (its limit: ${limit}${heap ? `, JVM heap ${heap.flag} from ${heap.from}` : ''}): if it used all of its limit, raise the limit; if the node ran out first, give the cluster more memory (docs: not-enough-resources)`;
}

const JVM_OPTION_VARS = ['KAFKA_HEAP_OPTS', 'JAVA_TOOL_OPTIONS', 'JDK_JAVA_OPTIONS', 'JAVA_OPTS'];

/** The last -Xmx a JVM would take from the container's environment (literal values only). */
export function jvmMaxHeap(env: readonly { name: string; value?: string }[]): { flag: string; bytes: number; from: string } | undefined {
  let found: { flag: string; bytes: number; from: string } | undefined;
  for (const v of JVM_OPTION_VARS) {
    const value = env.find((e) => e.name === v)?.value;
    for (const m of value?.matchAll(/-Xmx(\d+)([kKmMgG]?)\b/g) ?? []) {
      const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
      found = { flag: m[0], bytes: Number(m[1]) * unit, from: v };
    }
  }
  return found;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0]!.trim();
  return line.length > 160 ? line.slice(0, 157) + '...' : line;
}
