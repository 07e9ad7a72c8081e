// status.mts's sections, from one read of the namespace (components/shared/status.ts) and each component's own
// status.ts: what each says, and the command it proposes, when a StatefulSet is missing, not ready or ready.

import { describe, expect, it } from 'vitest';
import { kafkaStatus } from '../../scripts/lib/components/kafka/status.js';
import { postgresStatus } from '../../scripts/lib/components/postgres/status.js';
import { StatusView } from '../../scripts/lib/components/shared/status.js';
import { portsOfSlot, renderStackRecord } from '../../scripts/lib/components/shared/stack-record.js';
import { fakeExec, fakeStep, on } from '../support/fakes.js';

const list = (items: object[]) => ({ stdout: JSON.stringify({ kind: 'List', items }) });
const sts = (name: string, ready: number) => ({
  kind: 'StatefulSet',
  metadata: { name, labels: { 'app.kubernetes.io/version': '9.9' } },
  spec: { replicas: 1 },
  status: { readyReplicas: ready },
});
const pod = (name: string, app: string, ready: boolean) => ({
  metadata: { name, labels: { 'app.kubernetes.io/name': app } },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [{ ready, restartCount: ready ? 0 : 2, state: ready ? {} : { waiting: { reason: 'CrashLoopBackOff' } } }],
  },
});

function view(o: { workloads: object[]; pods: object[]; secrets?: string[] }) {
  const exec = fakeExec(
    on(['get', 'statefulset,deployment'], list(o.workloads)),
    on(['get', 'pods'], list(o.pods)),
    on(
      ['get', 'pvc'],
      list([{ metadata: { name: 'data-kafka-0', labels: { 'app.kubernetes.io/name': 'kafka' } }, status: { phase: 'Bound', capacity: { storage: '5Gi' } } }]),
    ),
    on(['get', 'secret'], list((o.secrets ?? []).map((name) => ({ metadata: { name } })))),
    on(['get', 'configmap', 'learnflow-stack'], { stdout: JSON.stringify(renderStackRecord('learnflow', portsOfSlot(1))) }),
  );
  const step = fakeStep(exec);
  return { step, exec, read: () => StatusView.read(step) };
}

describe('status sections', () => {
  it('reads the namespace in five calls (its record among them), whatever the number of components', async () => {
    const v = view({ workloads: [], pods: [] });
    const seen = await v.read();
    const sections = [await kafkaStatus(v.step, seen, { data: false }), await postgresStatus(v.step, seen, { data: false })];
    expect(v.exec.calls).toHaveLength(5);
    // The laptop endpoints are the stack's own, from its record (here a second stack's).
    expect(sections.flatMap((s) => s.endpoints)).toEqual(
      expect.arrayContaining([
        'from the laptop: 127.0.0.1:29102 while ./scripts/port-forward.mts start runs',
        'from the laptop: 127.0.0.1:15432 while ./scripts/port-forward.mts start runs',
      ]),
    );
  });

  it('not deployed: says so and proposes the deploy', async () => {
    const v = view({ workloads: [], pods: [] });
    const s = await kafkaStatus(v.step, await v.read(), { data: false });
    expect(s).toMatchObject({ component: 'Kafka', ok: false, facts: ['not deployed in learnflow'], next: './scripts/deploy-kafka.mts -n learnflow' });
  });

  it('a pod not ready: its reason and restarts, the claim, and the verify to run', async () => {
    const v = view({ workloads: [sts('kafka', 0)], pods: [pod('kafka-0', 'kafka', false)] });
    const s = await kafkaStatus(v.step, await v.read(), { data: false });
    expect(s.ok).toBe(false);
    expect(s.facts).toEqual(['apache/kafka 9.9, 1 broker(s), 0 ready', 'pod kafka-0: CrashLoopBackOff, 2 restart(s)', 'claim data-kafka-0: Bound, 5Gi']);
    expect(s.next).toBe('./scripts/verify-kafka.mts -n learnflow');
  });

  it('ready: no next command; a missing credentials Secret is named', async () => {
    const v = view({ workloads: [sts('postgresql', 1)], pods: [pod('postgresql-0', 'postgresql', true)], secrets: [] });
    const s = await postgresStatus(v.step, await v.read(), { data: false });
    expect(s).toMatchObject({ component: 'PostgreSQL', ok: true, next: undefined });
    expect(s.facts[0]).toBe('postgres 9.9, 1/1 ready');
    expect(s.credentials[0]).toBe('learnflow_user (administrator): Secret postgresql-credentials, key password (missing)');
  });
});
