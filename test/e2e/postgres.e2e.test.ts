// deploy-postgres / verify-postgres end to end: the cluster side on a REAL Kubernetes API server
// with KWOK nodes, the data side on a REAL PostgreSQL (no container runs on a KWOK node).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { renderPostgres } from '../../scripts/lib/components/postgres/manifests.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { installImagePullBackOffStage, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';

let cluster: KubeCluster;
let pg: PostgresInstance;
let pgUrl: string;

const kit = (script: string, args: string[], c: KubeCluster = cluster) => runKit(script, ['--context', c.context, ...args], { env: c.env, timeoutMs: 180_000 });

beforeAll(async () => {
  // Each assigned as it comes, so afterAll stops the one that started when the other failed.
  await Promise.all([startKubeCluster({ name: 'e2e-pg' }).then((c) => (cluster = c)), startPostgres().then((p) => (pg = p))]);
  pgUrl = await pg.createDatabase('learnflow');
}, 240_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), pg?.stop()]);
});

describe('deploy-postgres on a simulated cluster', () => {
  it('deploys: every object accepted by the real API server, the claim bound, the pod ready', { timeout: 180_000 }, async () => {
    const r = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '--json']);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.steps[0]!.changes).toMatchObject({
      'namespace/learnflow': 'created',
      'secret/postgresql-credentials': 'created',
      'statefulset/postgresql': 'created',
      'service/postgresql': 'created',
      'networkpolicy/postgresql': 'created',
      'migration 0001_schema.sql': 'applied',
    });
    const pvc = JSON.parse(await cluster.kubectl(['get', 'pvc', 'data-postgresql-0', '-n', 'learnflow', '-o', 'json'])) as {
      status: { phase: string };
      spec: { resources: { requests: { storage: string } } };
    };
    expect(pvc.status.phase).toBe('Bound');
    expect(pvc.spec.resources.requests.storage).toBe('5Gi');
    // The major its data directory was made with, for a later deploy whose StatefulSet is gone.
    const major = readVersions().postgres.version.split('.')[0];
    expect((pvc as unknown as { metadata: { annotations: Record<string, string> } }).metadata.annotations['learnflow.dev/postgres-major']).toBe(major);
    const ns = JSON.parse(await cluster.kubectl(['get', 'namespace', 'learnflow', '-o', 'json'])) as { metadata: { labels: Record<string, string> } };
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('baseline');
  });

  it('the re-run changes nothing, keeps the generated password, and is fast', { timeout: 120_000 }, async () => {
    const secretBefore = await cluster.kubectl(['get', 'secret', 'postgresql-credentials', '-n', 'learnflow', '-o', 'jsonpath={.data.password}']);
    const r = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const changes = (JSON.parse(r.stdout) as Report).steps[0]!.changes!;
    expect(Object.entries(changes).filter(([, v]) => v !== 'unchanged')).toEqual([]);
    expect(await cluster.kubectl(['get', 'secret', 'postgresql-credentials', '-n', 'learnflow', '-o', 'jsonpath={.data.password}'])).toBe(secretBefore);
    expect(r.durationMs).toBeLessThan(15_000);
    // the password is never printed
    const pw = Buffer.from(secretBefore, 'base64').toString();
    expect(r.stdout + r.stderr).not.toContain(pw);
  });

  it('the kit pods meet Pod Security "restricted": the API server finds no violation', { timeout: 60_000 }, async () => {
    // Labelling a namespace with a stricter level makes the API server check the pods already there;
    // --dry-run=server checks without changing anything, and answers with a warning per violation.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(
      'kubectl',
      ['--context', cluster.context, 'label', 'namespace', 'learnflow', 'pod-security.kubernetes.io/enforce=restricted', '--overwrite', '--dry-run=server'],
      { env: cluster.env, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const pods = JSON.parse(await cluster.kubectl(['get', 'pods', '-n', 'learnflow', '-o', 'json'])) as { items: unknown[] };
    expect(pods.items.length).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/violate/i);
    // and the check can fail: a pod that is only "baseline" is reported
    await cluster.apply(`apiVersion: v1
kind: Pod
metadata: { name: baseline-only, namespace: learnflow }
spec: { containers: [{ name: c, image: busybox:1.36 }] }
`);
    const bad = spawnSync(
      'kubectl',
      ['--context', cluster.context, 'label', 'namespace', 'learnflow', 'pod-security.kubernetes.io/enforce=restricted', '--overwrite', '--dry-run=server'],
      { env: cluster.env, encoding: 'utf8' },
    );
    expect(bad.stderr).toMatch(/violate/i);
    await cluster.kubectl(['delete', 'pod', 'baseline-only', '-n', 'learnflow', '--wait=false']);
  });

  it('verify-postgres passes every check, cluster side and data side', { timeout: 120_000 }, async () => {
    const r = await kit('scripts/verify-postgres.mts', ['--pg-url', pgUrl, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const checks = (JSON.parse(r.stdout) as Report).steps[0]!.checks;
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual([
      'pod ready',
      'volume bound',
      'service endpoints',
      'connection',
      'password required',
      'tables',
      'foreign keys',
      'curriculum topics',
      'test users',
      'write/read round trip',
      'service database students_db',
      'service database tutors_db',
      'service database matching_db',
    ]);
    expect(checks.find((c) => c.name === 'service database students_db')!.detail).toBe(
      'student_api logs in with Secret student-api-db; refused tutors_db, matching_db',
    );
  });
});

describe("the services' own databases", () => {
  const secret = async (name: string, ns = 'learnflow') => {
    const s = JSON.parse(await cluster.kubectl(['get', 'secret', name, '-n', ns, '-o', 'json'])) as {
      data: Record<string, string>;
      metadata: { labels: Record<string, string> };
    };
    return { labels: s.metadata.labels, data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])) };
  };

  it('each service has a Secret with what an app needs, in the shape apps and Dapr components read', { timeout: 60_000 }, async () => {
    const s = await secret('student-api-db');
    expect(Object.keys(s.data).sort()).toEqual(['connectionString', 'database', 'host', 'password', 'port', 'url', 'username']);
    expect(s.data).toMatchObject({ host: 'postgresql.learnflow.svc.cluster.local', port: '5432', database: 'students_db', username: 'student_api' });
    expect(s.data.url).toBe(`postgresql://student_api:${s.data.password}@postgresql.learnflow.svc.cluster.local:5432/students_db`);
    expect(s.data.connectionString).toMatch(
      /^host=postgresql\.learnflow\.svc\.cluster\.local port=5432 user=student_api password=\S+ dbname=students_db sslmode=prefer/,
    );
    expect(s.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'learnflow-kit',
      'learnflow.dev/stack': 'learnflow',
      'learnflow.dev/service': 'student-api',
    });
  });

  it('verify finds a password that no longer matches; deploy sets it again from the Secret', { timeout: 120_000 }, async () => {
    const { default: pgLib } = await import('pg');
    const admin = new pgLib.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query("ALTER ROLE tutor_api PASSWORD 'changed-behind-the-kit'");
    await admin.end();
    const v = await kit('scripts/verify-postgres.mts', ['--pg-url', pgUrl, '--json']);
    expect(v.code).toBe(1);
    const failed = (JSON.parse(v.stdout) as Report).steps[0]!.checks.filter((c) => !c.ok);
    expect(failed).toEqual([
      { name: 'service database tutors_db', ok: false, detail: expect.stringContaining('the password in Secret tutor-api-db does not match') },
    ]);
    const d = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect((JSON.parse(d.stdout) as Report).steps[0]!.changes!['role tutor_api password']).toBe('password set');
    expect((await kit('scripts/verify-postgres.mts', ['--pg-url', pgUrl])).code).toBe(0);
  });

  it('a service removed from the file is reported and kept; --prune drops it', { timeout: 120_000 }, async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'lf-svcdb-')), 'dbs.yaml');
    writeFileSync(file, 'services:\n  - { name: student-api, database: students_db }\n  - { name: tutor-api, database: tutors_db }\n');
    const kept = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '--service-databases', file]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stderr).toContain('belong to service matching-service, which the service databases file no longer lists: kept');
    expect(await cluster.kubectl(['get', 'secret', 'matching-service-db', '-n', 'learnflow', '-o', 'name'])).toContain('matching-service-db');
    const pruned = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '--service-databases', file, '--prune', 'matching-service', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect((JSON.parse(pruned.stdout) as Report).steps[0]!.changes).toMatchObject({
      'database matching_db': 'dropped',
      'role matching_service': 'dropped',
      'secret/matching-service-db': 'deleted',
    });
    const back = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl, '--json']);
    expect((JSON.parse(back.stdout) as Report).steps[0]!.changes).toMatchObject({ 'database matching_db': 'created' });
  });
});

describe('settings are remembered', () => {
  it('--no-network-policies stays off on a re-run without flags; --network-policies turns it on again', { timeout: 180_000 }, async () => {
    const policies = () => cluster.kubectl(['get', 'networkpolicy', '-n', 'mem', '-o', 'name']);
    const off = await kit('scripts/deploy-postgres.mts', ['--namespace', 'mem', '--no-network-policies', '--pg-url', pgUrl]);
    expect(off.code, off.stderr).toBe(0);
    expect(await policies()).toBe('');
    const again = await kit('scripts/deploy-postgres.mts', ['--namespace', 'mem', '--pg-url', pgUrl, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('NetworkPolicies off, as deployed (--network-policies changes it)');
    expect(await policies()).toBe('');
    expect(Object.entries((JSON.parse(again.stdout) as Report).steps[0]!.changes!).filter(([, v]) => v !== 'unchanged')).toEqual([]);
    const on = await kit('scripts/deploy-postgres.mts', ['--namespace', 'mem', '--network-policies', '--pg-url', pgUrl]);
    expect(on.code, on.stderr).toBe(0);
    expect(await policies()).toContain('networkpolicy.networking.k8s.io/postgresql');
  });
});

describe('--tls', () => {
  it('generates a certificate once, keeps it in a Secret, serves SSL, and the re-run changes nothing', { timeout: 120_000 }, async () => {
    const r = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--tls', '--pg-url', pgUrl, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const secret = JSON.parse(await cluster.kubectl(['get', 'secret', 'postgresql-tls', '-n', 'tls', '-o', 'json'])) as {
      type: string;
      data: Record<string, string>;
    };
    expect(secret.type).toBe('kubernetes.io/tls');
    const key = Buffer.from(secret.data['tls.key']!, 'base64').toString();
    expect(r.stdout + r.stderr).not.toContain(key.split('\n')[1]);
    const args = await cluster.kubectl(['get', 'statefulset', 'postgresql', '-n', 'tls', '-o', 'jsonpath={.spec.template.spec.containers[0].args}']);
    expect(args).toContain('ssl=on');
    const again = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--tls', '--pg-url', pgUrl, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(Object.entries((JSON.parse(again.stdout) as Report).steps[0]!.changes!).filter(([, v]) => v !== 'unchanged')).toEqual([]);
    const sslArgs = () => cluster.kubectl(['get', 'statefulset', 'postgresql', '-n', 'tls', '-o', 'jsonpath={.spec.template.spec.containers[0].args}']);
    const sslmode = async () =>
      Buffer.from(await cluster.kubectl(['get', 'secret', 'dapr-statestore', '-n', 'tls', '-o', 'jsonpath={.data.connectionString}']), 'base64').toString();
    // A client Secret that insists on SSL, labelled as the Dapr state store's is.
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'dapr-statestore', namespace: 'tls', labels: { 'learnflow.dev/postgres-sslmode': 'follow' } },
        stringData: {
          connectionString: 'host=postgresql.tls.svc.cluster.local port=5432 user=dapr_state password=pw dbname=learnflow sslmode=require connect_timeout=10',
        },
      }),
    );

    // a re-run without the flag keeps what the user chose
    const kept = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--pg-url', pgUrl, '--json']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stderr).toContain('TLS on, as deployed (--no-tls turns it off)');
    expect(Object.entries((JSON.parse(kept.stdout) as Report).steps[0]!.changes!).filter(([, v]) => v !== 'unchanged')).toEqual([]);
    expect(await sslArgs()).toContain('ssl=on');

    // --no-tls takes ssl out of the StatefulSet (server-side apply drops fields the kit no longer sets), and the
    // client that required SSL now prefers it
    const off = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--no-tls', '--pg-url', pgUrl, '--json']);
    expect(off.code, off.stderr).toBe(0);
    expect(await sslArgs()).not.toContain('ssl=on');
    expect(await sslmode()).toContain('sslmode=prefer');
    expect((JSON.parse(off.stdout) as Report).steps[0]!.changes!['secret/dapr-statestore']).toBe('sslmode=prefer');
    expect(off.stdout + off.stderr).not.toContain('password=pw');

    // and a re-run keeps it off; --tls turns it on again, and the client requires SSL again
    const stillOff = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--pg-url', pgUrl]);
    expect(stillOff.stderr).toContain('TLS off, as deployed (--tls turns it on)');
    expect(await sslArgs()).not.toContain('ssl=on');
    const on = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--tls', '--pg-url', pgUrl]);
    expect(on.code, on.stderr).toBe(0);
    expect(await sslArgs()).toContain('ssl=on');
    expect(await sslmode()).toContain('sslmode=require');

    const both = await kit('scripts/deploy-postgres.mts', ['--namespace', 'tls', '--tls', '--no-tls', '--pg-url', pgUrl]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--tls and --no-tls contradict each other');
  });
});

describe('faults', () => {
  it('an image that cannot be pulled fails within 30 s with the reason and the fix', { timeout: 120_000 }, async () => {
    await installImagePullBackOffStage(cluster, { labelKey: 'app.kubernetes.io/name', labelValue: 'postgresql', name: 'pg-pull-fault' });
    try {
      const r = await kit('scripts/deploy-postgres.mts', ['--namespace', 'pullfail', '--pg-url', pgUrl]);
      expect(r.code).toBe(1);
      expect(r.durationMs).toBeLessThan(30_000);
      expect(r.stderr).toMatch(/pod postgresql-0 is container postgresql: ImagePullBackOff/);
      expect(r.stderr).toContain('docs/troubleshooting.md#imagepullbackoff');
      expect(r.stderr).not.toMatch(STACK_TRACE);
    } finally {
      await cluster.kubectl(['delete', 'stage', 'pg-pull-fault']);
    }
  });

  it('a pod the real scheduler cannot place fails within 30 s, naming Insufficient memory and the fix', { timeout: 240_000 }, async () => {
    // deploy-postgres alone has no capacity preflight (deploy-all has): the wait itself must notice.
    const tiny = await startKubeCluster({ name: 'e2e-tiny', nodeCpu: '2', nodeMemory: '200Mi' });
    try {
      const r = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl], tiny);
      expect(r.code).toBe(1);
      expect(r.durationMs).toBeLessThan(30_000);
      expect(r.stderr).toMatch(/pod postgresql-0 is Pending: Unschedulable \(0\/1 nodes are available: 1 Insufficient memory/);
      expect(r.stderr).toContain('docs/troubleshooting.md#not-enough-resources');
    } finally {
      await tiny.stop();
    }
  });

  it('no default StorageClass: exit 3 with the fix', { timeout: 240_000 }, async () => {
    const bare = await startKubeCluster({ name: 'e2e-nosc', defaultStorageClass: false, persistentVolumes: 0 });
    try {
      const r = await kit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl], bare);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/no default StorageClass/);
      expect(r.stderr).toContain('docs/troubleshooting.md#no-default-storageclass');
    } finally {
      await bare.stop();
    }
  });

  it('an unreachable API server: exit 3 within 10 s; no kubeconfig at all: exit 3 naming that', { timeout: 60_000 }, async () => {
    // The same kubeconfig, its server moved to a port where nothing listens.
    const { copyFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { spawnSync } = await import('node:child_process');
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'lf-unreach-')), 'kubeconfig');
    copyFileSync(cluster.kubeconfig, kubeconfig);
    const clusterName = spawnSync('kubectl', ['config', 'view', '--kubeconfig', kubeconfig, '-o', 'jsonpath={.clusters[0].name}'], {
      encoding: 'utf8',
      env: cluster.env,
    }).stdout;
    spawnSync('kubectl', ['config', 'set-cluster', clusterName, '--server', 'https://127.0.0.1:1', '--kubeconfig', kubeconfig], { env: cluster.env });
    const r = await runKit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl], { env: { ...cluster.env, KUBECONFIG: kubeconfig } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.durationMs).toBeLessThan(12_000);
    expect(r.stderr).toMatch(/not reachable/);
    const none = await runKit('scripts/deploy-postgres.mts', ['--pg-url', pgUrl], { env: { ...cluster.env, KUBECONFIG: '/nonexistent/kubeconfig' } });
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no current kubeconfig context/);
  });

  it('refuses going back a PostgreSQL major before any change: the newer StatefulSet and its image stay', { timeout: 120_000 }, async () => {
    const ns = 'old-major';
    // A stack deployed by a newer kit with PostgreSQL 18: its StatefulSet as the API server keeps it. (An older major
    // is upgraded: test/e2e/postgres-upgrade.e2e.test.ts on the real node.)
    const rendered = renderPostgres(ns, 'pw').map((m) =>
      m.kind === 'StatefulSet' ? JSON.parse(JSON.stringify(m).replace(/"postgres:[0-9.]+"/, '"postgres:18.1"')) : m,
    );
    await cluster.apply(
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, ...rendered] }),
    );
    const image = () => cluster.kubectl(['get', 'statefulset', 'postgresql', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
    expect(await image()).toBe('postgres:18.1');
    const generation = await cluster.kubectl(['get', 'statefulset', 'postgresql', '-n', ns, '-o', 'jsonpath={.metadata.generation}']);

    const r = await kit('scripts/deploy-postgres.mts', ['--namespace', ns, '--pg-url', pgUrl]);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(1);
    const want = readVersions().postgres.version;
    expect(r.stderr).toContain(
      `statefulset/postgresql runs postgres:18.1; the kit pins PostgreSQL ${want}: going back a major (18 -> ${want.split('.')[0]}) cannot keep the data`,
    );
    expect(r.stderr).toContain('pin postgres back to 18.x in k8s/versions.json');
    expect(r.stderr).toContain('docs/troubleshooting.md#postgres-major-upgrade');
    // Nothing was applied: the same image, the same generation, no stack record made.
    expect(await image()).toBe('postgres:18.1');
    expect(await cluster.kubectl(['get', 'statefulset', 'postgresql', '-n', ns, '-o', 'jsonpath={.metadata.generation}'])).toBe(generation);
    expect(await cluster.kubectl(['get', 'configmap', 'learnflow-stack', '-n', ns, '--ignore-not-found', '-o', 'name'])).toBe('');
  });
});
