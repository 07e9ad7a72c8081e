import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagnosePod, GRACE_MS, KUBELET_RETRY_GRACE_MS, UNBOUND_CLAIM_GRACE_MS, type PodJson } from '../../scripts/lib/kube/pod-diagnosis.js';
import { TerminalTracker, workloadReady } from '../../scripts/lib/run/rollout.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/pods/${name}.json`, import.meta.url), 'utf8')) as PodJson;

describe('pod diagnosis on recorded kubectl -o json', () => {
  it('ImagePullBackOff is terminal, names the image and points to the docs', () => {
    const d = diagnosePod(fixture('image-pull-backoff'));
    expect(d).toMatchObject({ pod: 'postgresql-0', ready: false, reason: 'ImagePullBackOff', terminal: true, docs: 'imagepullbackoff' });
    expect(d.fix).toContain('bitnami/postgresql:16');
    expect(d.state).toContain('Back-off pulling image');
  });

  it('ErrImagePull gets a grace period before it counts as terminal', () => {
    const d = diagnosePod(fixture('err-image-pull'));
    expect(d).toMatchObject({ reason: 'ErrImagePull', terminal: false, graceMs: GRACE_MS });
  });

  it('CreateContainerConfigError from a Secret cache slow to sync gets a grace period; a missing Secret is terminal', () => {
    const slow = diagnosePod(fixture('create-container-config-error'));
    expect(slow).toMatchObject({ reason: 'CreateContainerConfigError', terminal: false, graceMs: KUBELET_RETRY_GRACE_MS });
    expect(slow.state).toContain('failed to sync secret cache');
    const missing = structuredClone(fixture('create-container-config-error'));
    missing.status!.containerStatuses![0]!.state!.waiting!.message = 'secret "postgresql-credentials" not found';
    expect(diagnosePod(missing)).toMatchObject({ reason: 'CreateContainerConfigError', terminal: true, fix: 'kubectl describe pod postgresql-0 -n learnflow' });
  });

  it('CrashLoopBackOff after OOMKilled says out of memory', () => {
    const d = diagnosePod(fixture('crashloop-oom'));
    expect(d).toMatchObject({ reason: 'OOMKilled', terminal: true, docs: 'oomkilled' });
    expect(d.state).toMatch(/CrashLoopBackOff \(last exit: OOMKilled\), 4 restarts/);
  });

  it('plain CrashLoopBackOff points at the previous logs', () => {
    const d = diagnosePod(fixture('crashloop'));
    expect(d.fix).toBe('kubectl logs kafka-0 -c kafka -n learnflow --previous');
  });

  it('Unschedulable for memory suggests a bigger cluster', () => {
    const d = diagnosePod(fixture('unschedulable-memory'));
    expect(d).toMatchObject({ reason: 'Unschedulable', terminal: false, graceMs: GRACE_MS, docs: 'not-enough-resources' });
    expect(d.state).toContain('Insufficient memory');
    expect(d.fix).toContain('minikube start --cpus 4 --memory 8g');
  });

  it('Unschedulable for an unbound claim points at the StorageClass', () => {
    const d = diagnosePod(fixture('unschedulable-pvc'));
    expect(d.docs).toBe('pvc-pending');
    // Binding can take a resync or a provisioner's while: longer than other scheduling reasons get.
    expect(d.graceMs).toBe(UNBOUND_CLAIM_GRACE_MS);
    expect(d.fix).toContain('kubectl get storageclass');
  });

  it('a running ready pod is just ready', () => {
    expect(diagnosePod(fixture('running-ready'))).toEqual({ pod: 'postgresql-0', ready: true, state: 'Running, ready', terminal: false });
  });

  it('the tracker makes a transient reason terminal only once it persisted past its grace', () => {
    let now = 0;
    const tracker = new TerminalTracker(() => now);
    const d = diagnosePod(fixture('unschedulable-memory'));
    expect(tracker.terminal(d)).toBe(false);
    now = GRACE_MS - 1;
    expect(tracker.terminal(d)).toBe(false);
    now = GRACE_MS;
    expect(tracker.terminal(d)).toBe(true);
  });
});

describe('workload readiness', () => {
  it('needs the new generation observed and every replica ready and updated', () => {
    const base = { kind: 'StatefulSet', metadata: { name: 'kafka', generation: 2 }, spec: { replicas: 1 } };
    expect(workloadReady({ ...base, status: { observedGeneration: 1, readyReplicas: 1, updatedReplicas: 1 } }).ready).toBe(false);
    expect(workloadReady({ ...base, status: { observedGeneration: 2, readyReplicas: 0, updatedReplicas: 1 } }).ready).toBe(false);
    expect(
      workloadReady({ ...base, status: { observedGeneration: 2, readyReplicas: 1, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'a' } }),
    ).toEqual({ ready: true, state: '1/1 ready, 1/1 updated' });
  });
});
