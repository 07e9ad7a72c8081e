// install-dapr and verify-dapr against a REAL Kubernetes API server with KWOK nodes (test/support/kube-cluster.ts)
// and a REAL PostgreSQL for the state-store role: the Dapr chart of the pinned version (copied from the Go module
// by test/substrate/provision-kube.sh) installed with the cached helm, every kit object accepted by the API server
// (server-side apply, strict field validation, the CRDs' real schemas, Pod Security), the re-run a no-op, a version
// change an upgrade with its CRDs, the dependency gate, and the probe's failure naming its hop. No container runs
// on a KWOK node, so the probe cannot pass here: verify runs with --skip-probe, and without it must fail at
// 'sidecar injection'.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderProbeJob } from '../../scripts/lib/components/dapr/probe.js';
import { renderNamespace } from '../../scripts/lib/components/postgres/manifests.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { standInStatefulSet as dependency, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';
import { PINNED_DAPR_CHART } from '../support/paths.js';

const DAPR_VERSION = readVersions().dapr.version;
const CHART = PINNED_DAPR_CHART;

let cluster: KubeCluster;
let server: PostgresInstance;
let pgUrl: string;

const kit = (script: string, args: string[]) =>
  runKit(script, ['--context', cluster.context, ...args], { env: { ...cluster.env, LEARNFLOW_DAPR_CHART: CHART }, timeoutMs: 170_000 });
const install = (...args: string[]) => kit('scripts/install-dapr.mts', ['--pg-url', pgUrl, '--json', ...args]);
const report = (stdout: string) => JSON.parse(stdout) as Report;
const json = async <T>(args: string[]) => JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as T;

beforeAll(async () => {
  if (!existsSync(path.join(CHART, 'Chart.yaml')))
    throw new Error(`the Dapr ${DAPR_VERSION} chart is not provisioned at ${CHART}: run bash test/substrate/provision-kube.sh`);
  // Each assigned as it comes, so afterAll stops the one that started when the other failed.
  await Promise.all([startKubeCluster({ name: 'dapr' }).then((c) => (cluster = c)), startPostgres().then((p) => (server = p))]);
  pgUrl = await server.createDatabase('learnflow');
  await cluster.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: renderNamespace('learnflow') }));
}, 240_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), server?.stop()]);
}, 120_000);

describe('install-dapr on a simulated cluster', () => {
  it('refuses before any change while Kafka is not deployed, saying what to run', { timeout: 120_000 }, async () => {
    await cluster.apply(JSON.stringify(dependency('postgresql')));
    const r = await install();
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(1);
    const error = report(r.stdout).steps[0]!.error!;
    expect(error.message).toMatch(/refusing to apply the Dapr components: Kafka is not deployed in learnflow/);
    expect(error.fix).toMatch(/deploy-kafka\.mts/);
    const releases = spawnSync('helm', ['--kube-context', cluster.context, 'list', '-n', 'dapr-system', '-o', 'json'], { env: cluster.env, encoding: 'utf8' });
    expect(JSON.parse(releases.stdout || '[]')).toEqual([]);
  });

  it('installs the control plane, the role, the components and Redis: every object accepted by the API server', { timeout: 170_000 }, async () => {
    await cluster.apply(JSON.stringify(dependency('kafka')));
    const r = await install('--with-redis');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    const changes = report(r.stdout).steps[0]!.changes!;
    expect(changes).toMatchObject({
      'helm release dapr': 'created',
      'role dapr_state': 'created',
      'schema dapr': 'created',
      'secret/dapr-statestore': 'created',
      'component/kafka-pubsub': 'created',
      'component/statestore': 'created',
      'component/statestore-redis': 'created',
      'configuration/learnflow-config': 'created',
      'resiliency/learnflow-resiliency': 'created',
      'statefulset/redis': 'created',
      'networkpolicy/redis': 'created',
    });
    // The release runs the pinned images, one replica each except the scheduler's hard-wired three.
    const sts = await json<{ items: { metadata: { name: string }; spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } }[] }>([
      'get',
      'statefulset,deployment',
      '-n',
      'dapr-system',
    ]);
    expect(Object.fromEntries(sts.items.map((i) => [i.metadata.name, i.spec.replicas]))).toEqual({
      'dapr-placement-server': 1,
      'dapr-scheduler-server': 3,
      'dapr-operator': 1,
      'dapr-sentry': 1,
      'dapr-sidecar-injector': 1,
    });
    for (const i of sts.items) expect(i.spec.template.spec.containers[0]!.image).toMatch(new RegExp(`:${DAPR_VERSION.replace(/\./g, '\\.')}$`));
    const pvcs = await json<{ items: { spec: { resources: { requests: { storage: string } } } }[] }>(['get', 'pvc', '-n', 'dapr-system']);
    expect(pvcs.items.map((p) => p.spec.resources.requests.storage)).toEqual(['2Gi', '2Gi', '2Gi']);
    // The connection string is in the Secret, never in the output.
    const cs = Buffer.from(
      await cluster.kubectl(['get', 'secret', 'dapr-statestore', '-n', 'learnflow', '-o', 'jsonpath={.data.connectionString}']),
      'base64',
    ).toString();
    const password = /password=(\S+)/.exec(cs)![1]!;
    expect(cs).toMatch(/^host=postgresql\.learnflow\.svc\.cluster\.local port=5432 user=dapr_state password=\S+ dbname=learnflow/);
    expect(r.stdout + r.stderr).not.toContain(password);
    // That password opens the role the kit created in the real PostgreSQL.
    const u = new URL(pgUrl);
    u.username = 'dapr_state';
    u.password = password;
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS dapr.state_probe (k text)');
    await c.end();
  });

  it('re-runs as a no-op in a few seconds, the password kept', { timeout: 120_000 }, async () => {
    const before = await cluster.kubectl(['get', 'secret', 'dapr-statestore', '-n', 'learnflow', '-o', 'jsonpath={.data.connectionString}']);
    const r = await install('--with-redis');
    expect(r.code, r.stderr).toBe(0);
    const changes = report(r.stdout).steps[0]!.changes!;
    expect(Object.entries(changes).filter(([, v]) => v !== 'unchanged')).toEqual([]);
    expect(changes['helm release dapr']).toBe('unchanged');
    expect(await cluster.kubectl(['get', 'secret', 'dapr-statestore', '-n', 'learnflow', '-o', 'jsonpath={.data.connectionString}'])).toBe(before);
    expect(r.durationMs).toBeLessThan(15_000);
    const revision = spawnSync('helm', ['--kube-context', cluster.context, 'list', '-n', 'dapr-system', '-o', 'json'], { env: cluster.env, encoding: 'utf8' });
    expect((JSON.parse(revision.stdout) as { revision: string }[])[0]!.revision).toBe('1');
  });

  it('keeps the kit pods within Pod Security "restricted" (Redis and the probe Job): no violation reported', { timeout: 60_000 }, async () => {
    const label = spawnSync(
      'kubectl',
      ['--context', cluster.context, 'label', 'namespace', 'learnflow', 'pod-security.kubernetes.io/enforce=restricted', '--overwrite', '--dry-run=server'],
      { env: cluster.env, encoding: 'utf8' },
    );
    expect(label.status, label.stderr).toBe(0);
    // Pods here: redis-0 and the two stand-ins (restricted too); one violation anywhere would be reported.
    const pods = await json<{ items: { metadata: { name: string } }[] }>(['get', 'pods', '-n', 'learnflow']);
    expect(pods.items.map((p) => p.metadata.name)).toContain('redis-0');
    expect(label.stderr).not.toMatch(/violate/i);
    const job = renderProbeJob({ namespace: 'learnflow', name: 'probe-psa-check', marker: 'm', image: 'curlimages/curl:8.11.1', activeDeadlineSeconds: 60 });
    const apply = spawnSync('kubectl', ['--context', cluster.context, 'apply', '--dry-run=server', '-f', '-'], {
      env: cluster.env,
      encoding: 'utf8',
      input: JSON.stringify(job),
    });
    expect(apply.status, apply.stderr).toBe(0);
    expect(apply.stderr).not.toMatch(/violate PodSecurity/i);
  });

  it('verify passes every object check with --skip-probe', { timeout: 120_000 }, async () => {
    const r = await kit('scripts/verify-dapr.mts', ['--skip-probe', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const checks = report(r.stdout).steps[0]!.checks;
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual([
      'dapr-operator ready',
      'dapr-sentry ready',
      'dapr-sidecar-injector ready',
      'dapr-placement-server ready',
      'dapr-scheduler-server ready',
      'helm release',
      'Dapr CRDs',
      'components',
      'configuration and resiliency',
      'state-store secret',
      'redis ready',
      'Kafka and PostgreSQL ready',
      'probe',
    ]);
  });

  it('--with-zipkin deploys the collector, points the Configuration at it, and is remembered by the next run', { timeout: 170_000 }, async () => {
    const r = await install('--with-zipkin');
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(report(r.stdout).steps[0]!.changes).toMatchObject({ 'deployment/zipkin': 'created', 'service/zipkin': 'created' });
    const cfg = await json<{ spec: { tracing: unknown } }>(['get', 'configurations.dapr.io', 'learnflow-config', '-n', 'learnflow']);
    expect(cfg.spec.tracing).toEqual({ samplingRate: '1', zipkin: { endpointAddress: 'http://zipkin.learnflow.svc.cluster.local:9411/api/v2/spans' } });
    const again = await install();
    expect(again.stderr).toContain('Zipkin on, as deployed (--no-zipkin changes it)');
    const v = await kit('scripts/verify-dapr.mts', ['--skip-probe', '--json']);
    expect(report(v.stdout).steps[0]!.checks.find((c) => c.name === 'zipkin')).toEqual({
      name: 'zipkin',
      ok: true,
      detail: 'deployment/zipkin ready (not called: --skip-probe)',
    });
    const off = await install('--no-zipkin');
    expect(off.code, off.stderr).toBe(0);
    expect(await cluster.kubectl(['get', 'deployment', 'zipkin', '-n', 'learnflow', '--ignore-not-found', '-o', 'name'])).toBe('');
  });

  it('without --skip-probe, fails at the hop where a cluster without containers must fail, and removes the Job', { timeout: 120_000 }, async () => {
    const r = await kit('scripts/verify-dapr.mts', ['--json', '--probe-timeout', '60s']);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(1);
    const failed = report(r.stdout).steps[0]!.checks.filter((c) => !c.ok);
    expect(failed.find((c) => c.name === 'probe')?.detail).toMatch(
      /probe failed at hop 'sidecar injection': pod learnflow-dapr-probe-[0-9a-f]+-\w+ has no daprd container/,
    );
    const jobs = await json<{ items: unknown[] }>(['get', 'jobs', '-n', 'learnflow', '-l', 'app.kubernetes.io/name=learnflow-dapr-probe']);
    expect(jobs.items).toEqual([]);
  });

  it('upgrades to another Dapr version with its CRDs, and back', { timeout: 170_000 }, async () => {
    const r = await install('--with-redis', '--dapr-version', '1.18.2');
    expect(r.code, r.stderr).toBe(0);
    const changes = report(r.stdout).steps[0]!.changes!;
    expect(changes['helm release dapr']).toBe('configured');
    // Same CRD content; the kit's first server-side apply takes over the fields from helm's create (managedFields).
    expect(['configured', 'unchanged']).toContain(changes['customresourcedefinition/components.dapr.io']);
    expect(Object.entries(changes).filter(([k, v]) => !k.startsWith('customresourcedefinition/') && k !== 'helm release dapr' && v !== 'unchanged')).toEqual(
      [],
    );
    const op = await json<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(['get', 'deployment', 'dapr-operator', '-n', 'dapr-system']);
    expect(op.spec.template.spec.containers[0]!.image).toMatch(/:1\.18\.2$/);
    const back = await install('--with-redis');
    expect(back.code, back.stderr).toBe(0);
    expect(report(back.stdout).steps[0]!.changes!['helm release dapr']).toBe('configured');
  });

  it(
    '--no-scheduler in a deploy that fails at the wait is kept by the release: a re-run without flags and a deploy in another namespace leave it off',
    { timeout: 170_000 },
    async () => {
      const values = async () => {
        const r = spawnSync('helm', ['get', 'values', 'dapr', '-n', 'dapr-system', '-o', 'json', '--kube-context', cluster.context], {
          env: cluster.env,
          encoding: 'utf8',
        });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { global?: { scheduler?: { enabled?: unknown } } };
      };
      // A budget too short for the control plane to come up: the release is upgraded, then the wait fails.
      const failed = await install('--with-redis', '--no-scheduler', '--budget', '1s');
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stderr).not.toMatch(STACK_TRACE);
      expect((await values()).global?.scheduler?.enabled).toBe(false);

      const again = await install('--with-redis');
      expect(again.code, again.stderr.slice(-3000)).toBe(0);
      expect(again.stderr).toContain('the Dapr scheduler off, as deployed (--scheduler changes it)');
      expect(report(again.stdout).steps[0]!.changes!['helm release dapr']).toBe('unchanged');
      expect((await values()).global?.scheduler?.enabled).toBe(false);
      const verify = await kit('scripts/verify-dapr.mts', ['--skip-probe', '--json']);
      expect(verify.code, verify.stderr.slice(-3000)).toBe(0);

      // Another stack's deploy keeps the shared setting too.
      // A stack's namespace as the kit leaves it (its ownership label names the stack).
      const teamB = renderNamespace('team-b').map((m) => ({
        ...m,
        metadata: { ...m.metadata, labels: { ...m.metadata.labels, 'learnflow.dev/stack': 'team-b' } },
      }));
      await cluster.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: teamB }));
      const other = await kit('scripts/install-dapr.mts', ['--namespace', 'team-b', '--pg-url', pgUrl, '--control-plane-only', '--json']);
      expect(other.code, other.stderr.slice(-3000)).toBe(0);
      expect(report(other.stdout).steps[0]!.changes!['helm release dapr']).toBe('unchanged');

      // --scheduler brings it back, and says whose control plane it changes.
      const back = await install('--with-redis', '--scheduler');
      expect(back.code, back.stderr.slice(-3000)).toBe(0);
      expect(report(back.stdout).steps[0]!.changes!['helm release dapr']).toBe('configured');
      expect(back.stderr).toMatch(/the Dapr control plane is shared: this upgrade changes it for the stacks in team-b too/);
      expect((await values()).global?.scheduler?.enabled).not.toBe(false);
    },
  );

  it('prints its plan with --dry-run without touching the cluster', { timeout: 60_000 }, async () => {
    const r = await runKit('scripts/install-dapr.mts', ['--dry-run', '--context', 'no-such-context'], { env: { ...process.env, KUBECONFIG: '/nonexistent' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/helm --kube-context no-such-context upgrade --install dapr/);
    expect(r.stdout).toContain('kind: Resiliency');
  });
});
