// The kit changes only the cluster it was pointed at, and deletes only what it created. On a REAL API server with
// KWOK nodes (data side on a real PostgreSQL and Kafka): every mutating script refuses a context that does not look
// local, and destroy-all --purge leaves a neighbour's look-alike objects, the namespace holding them and a Dapr
// control plane used elsewhere in place; its dry run lists exactly what the real run deletes.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';
import { PINNED_DAPR_CHART } from '../support/paths.js';

const CHART = PINNED_DAPR_CHART;

let cluster: KubeCluster;
let pg: PostgresInstance;
let kafka: KafkaInstance;
let pgUrl: string;
let dir: string;
/** A kubeconfig whose only context is this cluster under a name that does not look local. */
let sharedKubeconfig: string;
const SHARED = 'team-prod';

const endpoints = () => ['--pg-url', pgUrl, '--kafka-brokers', kafka.brokers.join(',')];
const kit = (script: string, args: string[]) =>
  runKit(script, ['--context', cluster.context, ...args], { env: { ...cluster.env, LEARNFLOW_DAPR_CHART: CHART }, timeoutMs: 300_000 });
/** As a user whose current context is a shared cluster: no --context unless the test gives one. */
const asShared = (script: string, args: string[]) =>
  runKit(script, args, { env: { ...cluster.env, KUBECONFIG: sharedKubeconfig, LEARNFLOW_DAPR_CHART: CHART }, timeoutMs: 300_000 });
const report = (stdout: string) => JSON.parse(stdout) as Report;

beforeAll(async () => {
  // Each assigned as it comes, so afterAll stops those that started when another one failed.
  await Promise.all([
    startKubeCluster({ name: 'e2e-safety', nodeCpu: '8', nodeMemory: '16Gi' }).then((c) => (cluster = c)),
    startPostgres().then((p) => (pg = p)),
    startKafka().then((k) => (kafka = k)),
  ]);
  pgUrl = await pg.createDatabase('learnflow');
  dir = mkdtempSync(path.join(tmpdir(), 'lf-safety-'));
  sharedKubeconfig = path.join(dir, 'kubeconfig');
  copyFileSync(cluster.kubeconfig, sharedKubeconfig);
  const r = spawnSync('kubectl', ['config', 'rename-context', cluster.context, SHARED, '--kubeconfig', sharedKubeconfig], {
    env: cluster.env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`kubectl config rename-context failed: ${r.stderr}`);
}, 240_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), pg?.stop(), kafka?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a current context that does not look like a local cluster', () => {
  it('every script that changes a cluster refuses it with exit 3 and the fix, before changing anything', { timeout: 240_000 }, async () => {
    const backup = path.join(dir, 'backup.sql');
    writeFileSync(backup, '-- PostgreSQL database dump\n-- PostgreSQL database dump complete\n');
    const runs: [string, string[]][] = [
      ['deploy-all.mts', [...endpoints(), '-n', 'guard']],
      ['scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '-n', 'guard']],
      ['scripts/deploy-kafka.mts', ['--kafka-brokers', kafka.brokers.join(','), '-n', 'guard']],
      ['scripts/install-dapr.mts', ['--pg-url', pgUrl, '-n', 'guard']],
      ['scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '-n', 'guard', '--rotate-secrets']],
      ['scripts/restore-postgres.mts', ['--input', backup, '-n', 'guard', '--force']],
      ['destroy-all.mts', ['-n', 'guard']],
    ];
    const results = await Promise.all(runs.map(([s, a]) => asShared(s, a)));
    results.forEach((r, i) => {
      const what = runs[i]!.join(' ');
      expect(r.code, `${what}\n${r.stderr}`).toBe(3);
      expect(r.stderr, what).toContain(`'${SHARED}' does not look like a local cluster`);
      expect(r.stderr, what).toContain(`--context ${SHARED}`);
      expect(r.stderr, what).not.toMatch(STACK_TRACE);
    });
    expect(await cluster.kubectl(['get', 'namespace', 'guard', '--ignore-not-found', '-o', 'name'])).toBe('');
  });

  it('destroy-all --purge is refused with --yes alone: it needs --context naming the cluster', { timeout: 60_000 }, async () => {
    const r = await asShared('destroy-all.mts', ['-n', 'guard', '--purge', '--yes']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('--yes is not enough');
  });

  it('goes ahead with --context naming it, and says first which context and namespace it changes', { timeout: 120_000 }, async () => {
    const r = await asShared('scripts/deploy-postgres.mts', ['--context', SHARED, '--pg-url', pgUrl, '-n', 'guard']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`target: context ${SHARED}, namespace guard$`));
    const yes = await asShared('scripts/deploy-kafka.mts', ['--yes', '--kafka-brokers', kafka.brokers.join(','), '-n', 'guard']);
    expect(yes.code, yes.stderr).toBe(0);
  });

  it('the read-only scripts are not asked (verify, dry runs)', { timeout: 120_000 }, async () => {
    const v = await asShared('scripts/verify-postgres.mts', ['--pg-url', pgUrl, '-n', 'guard', '--json']);
    expect(v.stderr).not.toContain('does not look like a local cluster');
    const d = await asShared('deploy-all.mts', ['--dry-run', '-n', 'guard']);
    expect(d.code, d.stderr).toBe(0);
  });
});

describe('destroy-all deletes only what the kit created', () => {
  const NS = 'team-ns';
  const labels = (name: string) => ({ 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': 'my-release', 'app.kubernetes.io/managed-by': 'Helm' });
  const neighbour = (name: string, app: string) => [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS, labels: labels(app) }, stringData: { password: 'theirs' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS, labels: labels(app) }, spec: { selector: labels(app), ports: [{ port: 5432 }] } },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: `data-${name}-0`, namespace: NS, labels: labels(app) },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: NS, labels: labels(app) },
      spec: {
        serviceName: name,
        replicas: 0,
        selector: { matchLabels: labels(app) },
        template: { metadata: { labels: labels(app) }, spec: { containers: [{ name: app, image: `bitnamilegacy/${app}:1` }] } },
      },
    },
  ];
  const neighbourNames = [
    'secret/my-postgresql',
    'service/my-postgresql',
    'persistentvolumeclaim/data-my-postgresql-0',
    'statefulset.apps/my-postgresql',
    'secret/my-kafka',
    'service/my-kafka',
    'persistentvolumeclaim/data-my-kafka-0',
    'statefulset.apps/my-kafka',
  ];
  const exists = async (name: string, ns = NS) => (await cluster.kubectl(['get', name, '-n', ns, '--ignore-not-found', '-o', 'name'])).trim() !== '';

  it('keeps a Bitnami-style neighbour, its namespace and a Dapr control plane used elsewhere; the dry run lists what goes', { timeout: 300_000 }, async () => {
    const d = await kit('deploy-all.mts', [...endpoints(), '-n', NS, '--json']);
    expect(d.code, d.stderr.slice(-2000)).toBe(0);
    await cluster.apply(
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...neighbour('my-postgresql', 'postgresql'), ...neighbour('my-kafka', 'kafka')] }),
    );
    await cluster.apply(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other-team' } }));
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'dapr.io/v1alpha1',
        kind: 'Component',
        metadata: { name: 'their-pubsub', namespace: 'other-team' },
        spec: { type: 'pubsub.in-memory', version: 'v1', metadata: [] },
      }),
    );

    const dry = await kit('destroy-all.mts', ['-n', NS, '--purge', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = (
      report(dry.stdout) as Report & {
        data: { plan: { delete: string[]; namespace: { delete: boolean; why: string }; clusterWide: { remove: boolean; why: string }[] } };
      }
    ).data.plan;
    expect(plan.delete).toEqual(
      expect.arrayContaining([
        'statefulset.apps/postgresql',
        'statefulset.apps/kafka',
        'persistentvolumeclaim/data-postgresql-0',
        'secret/postgresql-credentials',
        'component.dapr.io/kafka-pubsub',
      ]),
    );
    for (const n of neighbourNames) expect(plan.delete, n).not.toContain(n);
    expect(plan.namespace).toMatchObject({ delete: false, why: expect.stringMatching(/^it holds 8 object\(s\) the kit does not own: /) });
    expect(plan.clusterWide[0]).toMatchObject({ remove: false, why: expect.stringContaining('other-team/their-pubsub') });
    for (const n of plan.delete) expect(await exists(n), `${n} is still there after the dry run`).toBe(true);

    const r = await kit('destroy-all.mts', ['-n', NS, '--purge', '--yes', '--json']);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const deleted = report(r.stdout).steps.flatMap((s) =>
      Object.entries(s.changes ?? {})
        .filter(([, v]) => v === 'deleted')
        .map(([k]) => k),
    );
    expect([...deleted].sort()).toEqual([...plan.delete].sort());
    for (const n of neighbourNames) expect(await exists(n), `${n} was deleted`).toBe(true);
    expect(await exists(`namespace/${NS}`, 'default')).toBe(true);
    expect(r.stderr).toMatch(/kept namespace\/team-ns: it holds \d+ object\(s\) the kit does not own/);
    expect(r.stderr).toContain('other-team/their-pubsub');
    expect(await cluster.kubectl(['get', 'deployment', 'dapr-operator', '-n', 'dapr-system', '-o', 'name'])).toContain('dapr-operator');

    // Once the neighbour and the other team are gone, the namespace the kit made goes, and so does the control
    // plane the kit installed.
    await cluster.kubectl(['delete', ...neighbourNames, '-n', NS, '--wait=false']);
    await cluster.kubectl(['delete', 'namespace', 'other-team', '--wait=false']);
    await cluster.kubectl(['delete', 'component.dapr.io/their-pubsub', '-n', 'other-team', '--ignore-not-found', '--wait=false']);
    const again = await kit('destroy-all.mts', ['-n', NS, '--purge', '--dry-run', '--json']);
    const plan2 = (report(again.stdout) as Report & { data: { plan: { namespace: { delete: boolean }; clusterWide: { remove: boolean; why: string }[] } } })
      .data.plan;
    expect(plan2.namespace.delete, again.stdout).toBe(true);
    expect(plan2.clusterWide[0]).toMatchObject({ remove: true, why: 'installed by the kit, and no other namespace has Dapr components' });
    const last = await kit('destroy-all.mts', ['-n', NS, '--purge', '--yes', '--json']);
    expect(last.code, last.stderr.slice(-2000)).toBe(0);
    const changes = Object.assign({}, ...report(last.stdout).steps.map((s) => s.changes ?? {}));
    expect(changes).toMatchObject({ [`namespace/${NS}`]: 'deleted', 'helm release dapr': 'deleted', 'namespace/dapr-system': 'deleted' });
  });

  it('never touches the namespaces of Kubernetes, nor purges default (exit 2)', { timeout: 60_000 }, async () => {
    for (const args of [
      ['-n', 'kube-system', '--yes'],
      ['-n', 'default', '--purge', '--yes'],
    ]) {
      const r = await kit('destroy-all.mts', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/refusing/);
    }
  });
});
