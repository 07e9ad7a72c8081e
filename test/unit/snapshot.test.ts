// The run's snapshot (kube/snapshot.ts) and the label selectors it evaluates (kube/selector.ts): what it answers,
// what it leaves to the API server, and when Kube drops it.

import { describe, expect, it } from 'vitest';
import { Kube } from '../../scripts/lib/kube/kubectl.js';
import { labelSelectorMatches } from '../../scripts/lib/kube/selector.js';
import { runSnapshotSpec, Snapshot } from '../../scripts/lib/kube/snapshot.js';
import { fakeExec, on } from '../support/fakes.js';

describe('labelSelectorMatches', () => {
  const labels = { 'app.kubernetes.io/name': 'kafka', tier: 'data' };
  it.each([
    ['app.kubernetes.io/name=kafka', true],
    ['app.kubernetes.io/name==kafka,tier=data', true],
    ['app.kubernetes.io/name=kafka,tier=web', false],
    ['tier!=web', true],
    ['app.kubernetes.io/name in (kafka,postgresql)', true],
    ['app.kubernetes.io/name in (redis, postgresql)', false],
    ['app.kubernetes.io/name notin (redis)', true],
    ['missing notin (x)', true],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
  ])('%s -> %s', (selector, want) => {
    expect(labelSelectorMatches(selector, labels)).toBe(want);
  });

  it.each(['a in (b', 'a=b,,c=d', 'a > 3', 'a in ((b))', ''])('does not guess at %j', (selector) => {
    expect(labelSelectorMatches(selector, labels)).toBeUndefined();
  });
});

const pod = (name: string, ns: string, labels: Record<string, string> = {}) => ({ kind: 'Pod', metadata: { name, namespace: ns, labels } });
const cm = (name: string, ns = 'learnflow', resourceVersion = '1') => ({ kind: 'ConfigMap', metadata: { name, namespace: ns, resourceVersion } });

describe('Snapshot', () => {
  const snap = new Snapshot(
    [pod('kafka-0', 'learnflow', { app: 'kafka' }), pod('coredns', 'kube-system'), cm('settings'), { kind: 'Node', metadata: { name: 'n1' } }],
    { everywhere: ['Pod', 'Node'], namespaced: [{ namespace: 'learnflow', kinds: ['ConfigMap'] }] },
  );

  it('answers lists and gets of the kinds it holds, by namespace and selector', () => {
    expect(snap.list('pods', null)?.map((p: any) => p.metadata.name)).toEqual(['kafka-0', 'coredns']);
    expect(snap.list('pod', 'learnflow', 'app=kafka')?.length).toBe(1);
    expect(snap.list('po', 'kube-system', 'app=kafka')).toEqual([]);
    expect(snap.get('configmap', 'settings', 'learnflow')).toMatchObject({ metadata: { name: 'settings' } });
    expect(snap.get('cm', 'gone', 'learnflow')).toBeNull();
    expect(snap.list('nodes', 'learnflow')?.length).toBe(1);
  });

  it('leaves to the API server what it does not hold in full', () => {
    expect(snap.get('configmap', 'settings', 'other')).toBeUndefined(); // ConfigMaps read in learnflow only
    expect(snap.list('configmap', null)).toBeUndefined();
    expect(snap.list('pod,secret', 'learnflow')).toBeUndefined();
    expect(snap.list('endpointslices', 'learnflow')).toBeUndefined();
    expect(snap.list('pod', 'learnflow', 'a > 1')).toBeUndefined();
  });

  it("after another tool changed a namespace, holds everything but that namespace's objects, its Namespace and the cluster-scoped lists", () => {
    const s = new Snapshot(
      [
        pod('kafka-0', 'learnflow'),
        pod('op', 'dapr-system'),
        cm('settings'),
        { kind: 'Namespace', metadata: { name: 'learnflow' } },
        { kind: 'Node', metadata: { name: 'n1' } },
      ],
      { everywhere: ['Pod', 'Namespace', 'Node'], namespaced: [{ namespace: 'learnflow', kinds: ['ConfigMap'] }] },
    );
    s.forget('dapr-system');
    expect(s.list('pods', 'learnflow')?.length).toBe(1);
    expect(s.get('configmap', 'settings', 'learnflow')).toMatchObject({ metadata: { name: 'settings' } });
    expect(s.get('namespace', 'learnflow', null)).toMatchObject({ metadata: { name: 'learnflow' } });
    expect(s.get('namespace', 'elsewhere', null)).toBeNull();
    expect(s.get('namespace', 'dapr-system', null)).toBeUndefined(); // helm --create-namespace may have made it
    expect(s.list('pods', 'dapr-system')).toBeUndefined();
    expect(s.list('pods', null)).toBeUndefined();
    expect(s.list('namespaces', null)).toBeUndefined();
    expect(s.list('nodes', null)).toBeUndefined();
  });

  it("a run's spec reads Secrets only in the stack's namespace, and every kind the plans apply there", () => {
    const spec = runSnapshotSpec('learnflow', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } },
      { apiVersion: 'dapr.io/v1alpha1', kind: 'Component', metadata: { name: 'c' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'learnflow' } },
    ]);
    expect(spec.everywhere).not.toContain('Secret');
    expect(spec.namespaced).toEqual([{ namespace: 'learnflow', kinds: expect.arrayContaining(['Secret', 'ConfigMap', 'Service', 'Component']) }]);
    expect(spec.namespaced[0]!.kinds).not.toContain('Namespace');
  });
});

describe('Kube with a snapshot', () => {
  const list = (items: object[]) => ({ stdout: JSON.stringify({ kind: 'List', items }) });
  const setup = (applied: { resourceVersion: string }) => {
    const exec = fakeExec(
      (args) => (args[0] === 'get' && args.includes('--all-namespaces') ? list([pod('kafka-0', 'learnflow', { app: 'kafka' })]) : undefined),
      (args) => (args[0] === 'get' && args[1]?.includes('configmaps') ? list([cm('settings')]) : undefined),
      on(['apply'], () => list([cm('settings', 'learnflow', applied.resourceVersion)])),
      on(['delete'], { stdout: '' }),
      on(['get', 'configmap', 'settings'], { stdout: JSON.stringify(cm('settings', 'learnflow', '7')) }),
      on(['get', '-f', '-'], list([cm('settings')])),
    );
    return { exec, kube: new Kube(exec, 'learnflow') };
  };
  const spec = { everywhere: ['Pod'], namespaced: [{ namespace: 'learnflow', kinds: ['ConfigMap', 'Secret'] }] };
  const gets = (exec: ReturnType<typeof fakeExec>) => exec.calls.filter((c) => c.args[0] === 'get').length;

  it("reads the cluster once: later reads, a step's Kube and the before-state of an apply spawn nothing", async () => {
    const { exec, kube } = setup({ resourceVersion: '1' });
    await kube.takeSnapshot(spec);
    expect(gets(exec)).toBe(2);
    expect(await kube.getOptional('configmap', 'settings')).toMatchObject({ metadata: { resourceVersion: '1' } });
    expect(await kube.withExec(exec).list('pod', { selector: 'app=kafka' })).toHaveLength(1);
    expect(await kube.getNamed('secret', ['a', 'b'])).toEqual([]);
    expect(await kube.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } }])).toEqual({ 'configmap/settings': 'unchanged' });
    expect(gets(exec)).toBe(2);
    // A no-op apply keeps the snapshot.
    expect(await kube.getOptional('configmap', 'settings')).toMatchObject({ metadata: { resourceVersion: '1' } });
    expect(gets(exec)).toBe(2);
  });

  it('a fresh read asks the API server', async () => {
    const { exec, kube } = setup({ resourceVersion: '1' });
    await kube.takeSnapshot(spec);
    expect(await kube.getOptional('configmap', 'settings', 'learnflow', { fresh: true })).toMatchObject({ metadata: { resourceVersion: '7' } });
    expect(gets(exec)).toBe(3);
  });

  it('an apply that changed something drops it, for every Kube of the run', async () => {
    const { exec, kube } = setup({ resourceVersion: '2' });
    await kube.takeSnapshot(spec);
    const stepKube = kube.withExec(exec);
    expect(await stepKube.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } }])).toEqual({ 'configmap/settings': 'configured' });
    expect(await kube.getOptional('configmap', 'settings')).toMatchObject({ metadata: { resourceVersion: '7' } });
    expect(gets(exec)).toBe(3);
  });

  it('a failed apply drops it (some of its objects may have been applied)', async () => {
    const exec = fakeExec(
      (args) => (args[0] === 'get' && args.includes('--all-namespaces') ? list([]) : undefined),
      (args) => (args[0] === 'get' && args[1]?.includes('configmaps') ? list([cm('settings')]) : undefined),
      on(['apply'], { exitCode: 1, stderr: 'Error from server (Invalid): one of two objects refused' }),
      on(['get', 'configmap', 'settings'], { stdout: JSON.stringify(cm('settings', 'learnflow', '7')) }),
    );
    const kube = new Kube(exec, 'learnflow');
    await kube.takeSnapshot(spec);
    await expect(kube.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } }])).rejects.toThrow(/refused/);
    expect(await kube.getOptional('configmap', 'settings')).toMatchObject({ metadata: { resourceVersion: '7' } });
  });

  it("a helm release changed in another namespace keeps the stack namespace's part; in the stack's own, drops it all", async () => {
    const { exec, kube } = setup({ resourceVersion: '1' });
    await kube.takeSnapshot(spec);
    kube.changed('dapr-system');
    expect(await kube.getOptional('configmap', 'settings')).toMatchObject({ metadata: { resourceVersion: '1' } });
    expect(gets(exec)).toBe(2);
    kube.changed('learnflow');
    expect(await kube.getOptional('configmap', 'settings')).toMatchObject({ metadata: { resourceVersion: '7' } });
    expect(gets(exec)).toBe(3);
  });

  it('any kubectl write drops it, and so does a change made by another tool', async () => {
    const { exec, kube } = setup({ resourceVersion: '1' });
    await kube.takeSnapshot(spec);
    await kube.run(['delete', 'pod', 'kafka-0', '-n', 'learnflow']);
    await kube.getOptional('configmap', 'settings');
    expect(gets(exec)).toBe(3);
    await kube.takeSnapshot(spec);
    kube.changed();
    await kube.getOptional('configmap', 'settings');
    expect(gets(exec)).toBe(6);
  });

  it("a kind whose CRD is not installed is left out of the snapshot, not the run's error", async () => {
    const exec = fakeExec((args) => {
      if (args[0] !== 'get') return undefined;
      if (args[1]!.includes('dapr.io')) return { exitCode: 1, stderr: 'error: the server doesn\'t have a resource type "components"' };
      return list([cm('settings')]);
    });
    const kube = new Kube(exec, 'learnflow');
    await kube.takeSnapshot({ everywhere: [], namespaced: [{ namespace: 'learnflow', kinds: ['ConfigMap', 'Component'] }] });
    expect(await kube.getOptional('configmap', 'settings')).toBeDefined();
    expect(exec.calls.map((c) => c.args[1])).toEqual(['configmaps,components.dapr.io', 'configmaps']);
  });
});
