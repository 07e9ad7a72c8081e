// The no-op apply check (kube/applied.ts) and Kube.apply skipping an apply the run's snapshot shows would change
// nothing: the digest a manifest is stamped with, and the field comparison that guards against changes by others.

import { describe, expect, it } from 'vitest';
import { APPLIED_DIGEST, applyIsNoop, holds, stampDigest } from '../../scripts/lib/kube/applied.js';
import { Kube } from '../../scripts/lib/kube/kubectl.js';
import type { Manifest } from '../../scripts/lib/kube/manifests.js';
import { renderAll } from '../../scripts/lib/components/dapr/manifests.js';
import { renderKafka } from '../../scripts/lib/components/kafka/manifests.js';
import { renderPostgres } from '../../scripts/lib/components/postgres/manifests.js';
import { renderNamespace } from '../../scripts/lib/components/shared/namespace.js';
import { fakeExec, on } from '../support/fakes.js';

const svc = (port = 9092): Manifest => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'kafka', namespace: 'learnflow', labels: { app: 'kafka' } },
  spec: { selector: { app: 'kafka' }, ports: [{ name: 'client', port }] },
});

/** What the API server keeps of an applied manifest: defaults added, resourceVersion, status. */
const live = (m: Manifest) => {
  const spec = m.spec as { ports: object[] };
  return {
    ...m,
    metadata: { ...m.metadata, resourceVersion: '5', uid: 'u1', managedFields: [] },
    spec: { ...spec, clusterIP: '10.96.0.10', type: 'ClusterIP', ports: spec.ports.map((p) => ({ ...p, protocol: 'TCP', targetPort: 9092 })) },
    status: { loadBalancer: {} },
  };
};

describe('holds', () => {
  it('accepts fields the server added, never a changed, missing or extra list element', () => {
    expect(holds({ a: 1, b: { c: [1, { d: 2, e: 3 }] } }, { a: 1, b: { c: [1, { d: 2 }] } })).toBe(true);
    expect(holds({ a: 1 }, { a: '1' })).toBe(false);
    expect(holds({ a: [1, 2] }, { a: [1] })).toBe(false);
    expect(holds({ a: [1] }, { a: [1, 2] })).toBe(false);
    expect(holds({}, { a: {} })).toBe(false);
    expect(holds({ a: [] }, { a: {} })).toBe(false);
  });
});

describe('stampDigest and applyIsNoop', () => {
  it('the digest is stable, changes with any field, and is the same whatever an old stamp said', () => {
    const a = stampDigest(svc()).metadata.annotations![APPLIED_DIGEST];
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(stampDigest(svc()).metadata.annotations![APPLIED_DIGEST]).toBe(a);
    expect(stampDigest(stampDigest(svc())).metadata.annotations![APPLIED_DIGEST]).toBe(a);
    expect(stampDigest(svc(9093)).metadata.annotations![APPLIED_DIGEST]).not.toBe(a);
  });

  it("a Secret's values stay out of its digest, its keys do not", () => {
    const secret = (data: Record<string, string>): Manifest => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'learnflow' },
      stringData: data,
    });
    const d = (m: Manifest) => stampDigest(m).metadata.annotations![APPLIED_DIGEST];
    expect(d(secret({ password: 'one' }))).toBe(d(secret({ password: 'two' })));
    expect(d(secret({ password: 'one' }))).not.toBe(d(secret({ password: 'one', user: 'u' })));
  });

  it('a no-op only when the live object carries this digest and every applied field as it was', () => {
    const want = stampDigest(svc());
    expect(applyIsNoop(live(want), want)).toBe(true);
    // Applied by an older kit (or by hand): no digest, or another one. A field the kit dropped may still be there.
    expect(applyIsNoop(live(svc()), want)).toBe(false);
    expect(applyIsNoop(live(stampDigest(svc(9093))), stampDigest(svc()))).toBe(false);
    // Someone changed a field the kit applies: same digest, other value.
    const edited = live(want);
    (edited.spec as Record<string, unknown>).selector = { app: 'other' };
    expect(applyIsNoop(edited, want)).toBe(false);
    expect(applyIsNoop(undefined, want)).toBe(false);
  });

  it("a Secret's stringData is compared as the API server stores it (base64 in data)", () => {
    const want = stampDigest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'learnflow' }, stringData: { password: 'pw' } });
    const stored = { ...want, stringData: undefined, data: { password: Buffer.from('pw').toString('base64') }, type: 'Opaque' };
    delete stored.stringData;
    expect(applyIsNoop(stored, want)).toBe(true);
    expect(applyIsNoop({ ...stored, data: { password: Buffer.from('other').toString('base64') } }, want)).toBe(false);
  });
});

describe('Kube.apply with a snapshot', () => {
  const list = (items: object[]) => ({ stdout: JSON.stringify({ kind: 'List', items }) });
  const spec = { everywhere: [], namespaced: [{ namespace: 'learnflow', kinds: ['Service'] }] };
  const kubeWith = (held: object[]) => {
    const exec = fakeExec(
      on(['get', 'services'], list(held)),
      on(['apply'], () => list([{ ...live(stampDigest(svc())), metadata: { ...live(stampDigest(svc())).metadata, resourceVersion: '6' } }])),
    );
    return { exec, kube: new Kube(exec, 'learnflow') };
  };
  const owned = (m: Manifest) => ({
    ...m,
    metadata: { ...m.metadata, labels: { ...m.metadata.labels, 'app.kubernetes.io/managed-by': 'learnflow-kit', 'learnflow.dev/stack': 'learnflow' } },
  });

  it('runs nothing when the snapshot shows every object as the kit last applied it, and keeps the snapshot', async () => {
    const { exec, kube } = kubeWith([live(stampDigest(owned(svc())))]);
    await kube.takeSnapshot(spec);
    expect(await kube.apply([svc()])).toEqual({ 'service/kafka': 'unchanged' });
    expect(exec.calls.map((c) => c.args[0])).toEqual(['get']);
    await kube.getOptional('service', 'kafka');
    expect(exec.calls).toHaveLength(1);
  });

  it('applies, stamped, when any object differs; the outcome comes from the resourceVersions', async () => {
    const { exec, kube } = kubeWith([live(owned(svc()))]);
    await kube.takeSnapshot(spec);
    expect(await kube.apply([svc()])).toEqual({ 'service/kafka': 'configured' });
    const applied = exec.calls.find((c) => c.args[0] === 'apply')!;
    expect(JSON.parse(applied.input!).metadata.annotations[APPLIED_DIGEST]).toBe(stampDigest(owned(svc())).metadata.annotations![APPLIED_DIGEST]);
  });
});

describe("the kit's manifests compare equal to what the API server stores", () => {
  // The API server writes a quantity in its canonical form (1000m is stored as 1, 1024Mi as 1Gi): a manifest that
  // spells one otherwise never matches its live object, and every re-run applies it again.
  const canonical = (q: string) => {
    const m = /^(\d+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
    if (!m) return false;
    const [, digits, unit] = m;
    const n = Number(digits);
    if (unit === 'm') return n % 1000 !== 0;
    if (unit?.endsWith('i')) return n % 1024 !== 0 || unit === 'Ti';
    return true;
  };
  const quantities = (o: unknown, at = ''): [string, string][] => {
    if (Array.isArray(o)) return o.flatMap((x, i) => quantities(x, `${at}[${i}]`));
    if (!o || typeof o !== 'object') return [];
    return Object.entries(o).flatMap(([k, v]): [string, string][] =>
      (k === 'requests' || k === 'limits') && v && typeof v === 'object'
        ? Object.entries(v).map(
            ([r, q]) => [`${at}.${k}.${r}`, typeof q === 'string' ? q : `${String(q)} (a ${typeof q}, stored as a string)`] as [string, string],
          )
        : quantities(v, `${at}.${k}`),
    );
  };
  const manifests = [
    ...renderKafka('learnflow', 3, { networkPolicies: true }),
    ...renderPostgres('learnflow', 'pw', { networkPolicies: true }),
    ...renderAll(
      { namespace: 'learnflow', consumerGroup: 'g', samplingRate: '1', zipkinEndpoint: undefined, withRedis: true, withZipkin: true, networkPolicies: true },
      { connectionString: 'host=x', redisPassword: 'pw' },
    ),
  ];

  it('every resource quantity is a string written in canonical form', () => {
    const found = manifests.flatMap((m) => quantities(m, `${m.kind}/${m.metadata.name}`));
    expect(found.length).toBeGreaterThan(10);
    expect(found.filter(([, q]) => !canonical(q))).toEqual([]);
    expect(canonical('1000m')).toBe(false);
    expect(canonical('1024Mi')).toBe(false);
  });
});

describe('Kube.apply: two batches of one run that both find the Namespace absent', () => {
  it('the first to finish created it and labels it; the other reports it unchanged', async () => {
    const ns = (rv: string) => ({ kind: 'Namespace', metadata: { name: 'learnflow', resourceVersion: rv } });
    const list = (items: object[]) => ({ stdout: JSON.stringify({ kind: 'List', items }) });
    const exec = fakeExec(
      on(['get', 'namespaces'], list([])),
      on(['get', 'configmaps'], list([])),
      on(['apply'], (_args, opts) =>
        list([
          ns('5'),
          ...(opts.input!.includes('"ConfigMap"') ? [{ kind: 'ConfigMap', metadata: { name: 'c', namespace: 'learnflow', resourceVersion: '6' } }] : []),
        ]),
      ),
      on(['label', 'namespace'], { stdout: '' }),
    );
    const kube = new Kube(exec, 'learnflow');
    await kube.takeSnapshot({ everywhere: ['Namespace'], namespaced: [{ namespace: 'learnflow', kinds: ['ConfigMap'] }] });
    const namespace: Manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'learnflow' } };
    const cm: Manifest = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'learnflow' } };
    const [a, b] = await Promise.all([kube.apply([namespace]), kube.withExec(exec).apply([namespace, cm])]);
    expect([a['namespace/learnflow'], b['namespace/learnflow']].sort()).toEqual(['created', 'unchanged']);
    expect(b['configmap/c']).toBe('created');
    expect(exec.calls.filter((c) => c.args[0] === 'label')).toHaveLength(1);
  });
});

describe("Kube.apply: the stack's Namespace is shared ground", () => {
  const list = (items: object[]) => ({ stdout: JSON.stringify({ kind: 'List', items }) });
  const kitNamespace = renderNamespace('learnflow')[0]!;
  const cm: Manifest = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'learnflow' } };
  const run = async (liveLabels: Record<string, string> | undefined) => {
    const existing = liveLabels ? [{ kind: 'Namespace', metadata: { name: 'learnflow', resourceVersion: '3', labels: liveLabels } }] : [];
    const exec = fakeExec(
      on(['get', 'namespaces'], list(existing)),
      on(['get', 'configmaps'], list([])),
      on(['apply'], (_args, opts) =>
        list(
          (opts.input ?? '')
            .split('\n')
            .map((l) => JSON.parse(l) as Manifest)
            .map((m) => ({ kind: m.kind, metadata: { name: m.metadata.name, namespace: m.metadata.namespace, resourceVersion: '4' } })),
        ),
      ),
      on(['label', 'namespace'], { stdout: '' }),
      // after a label the snapshot is gone: the batch's objects are read
      on(['get', '-f', '-'], list([])),
    );
    const kube = new Kube(exec, 'learnflow');
    await kube.takeSnapshot({ everywhere: ['Namespace'], namespaced: [{ namespace: 'learnflow', kinds: ['ConfigMap'] }] });
    const outcome = await kube.apply([kitNamespace, cm]);
    const applied = exec.calls.filter((c) => c.args[0] === 'apply').flatMap((c) => c.input!.split('\n').map((l) => JSON.parse(l) as Manifest));
    const labelled = exec.calls.filter((c) => c.args[0] === 'label').map((c) => c.args.slice(3));
    return { outcome, applied, labelled };
  };

  it("a new namespace is created with the kit's levels: enforce baseline, warn and audit restricted", async () => {
    const { applied, outcome } = await run(undefined);
    const ns = applied.find((m) => m.kind === 'Namespace')!;
    expect(ns.metadata.labels!['pod-security.kubernetes.io/enforce']).toBe('baseline');
    expect(ns.metadata.labels!['pod-security.kubernetes.io/warn']).toBe('restricted');
    expect(outcome['namespace/learnflow']).toBe('created');
  });

  it("an existing namespace is never applied again: an admin's stricter level stays, the kit adds only the labels it lacks", async () => {
    const { applied, labelled, outcome } = await run({ 'pod-security.kubernetes.io/enforce': 'restricted', 'team.example/owner': 'b' });
    expect(applied.map((m) => m.kind)).toEqual(['ConfigMap']);
    expect(labelled).toHaveLength(1);
    const added = Object.fromEntries(labelled[0]!.map((kv) => kv.split('=') as [string, string]));
    expect(added).not.toHaveProperty('pod-security.kubernetes.io/enforce');
    expect(added).toMatchObject({ 'pod-security.kubernetes.io/warn': 'restricted', 'dapr-enabled': 'true', 'learnflow.dev/stack': 'learnflow' });
    expect(outcome).toMatchObject({ 'namespace/learnflow': 'configured', 'configmap/c': 'created' });
  });

  it('--diff changes nothing: it names the labels a deploy would add, and runs no kubectl label', async () => {
    const exec = fakeExec(
      on(['get', 'namespaces'], list([{ kind: 'Namespace', metadata: { name: 'learnflow', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }])),
      on(['diff'], { stdout: '', exitCode: 0 }),
    );
    const kube = new Kube(exec, 'learnflow');
    await kube.takeSnapshot({ everywhere: ['Namespace'], namespaced: [] });
    const d = await kube.diff([kitNamespace, cm]);
    expect(d.changed).toBe(true);
    expect(d.text).toMatch(/^namespace\/learnflow: would add labels .*dapr-enabled=true/);
    expect(d.text).not.toContain('pod-security.kubernetes.io/enforce=');
    expect(exec.calls.map((c) => c.args[0])).toEqual(['get', 'diff']);
  });

  it('a namespace that has every label the kit sets: no label, no apply of it, unchanged', async () => {
    const full = { ...kitNamespace.metadata.labels, 'app.kubernetes.io/managed-by': 'learnflow-kit', 'learnflow.dev/stack': 'learnflow' };
    const { applied, labelled, outcome } = await run({ ...full, 'pod-security.kubernetes.io/enforce': 'privileged' });
    expect(applied.map((m) => m.kind)).toEqual(['ConfigMap']);
    expect(labelled).toEqual([]);
    expect(outcome['namespace/learnflow']).toBe('unchanged');
  });
});
