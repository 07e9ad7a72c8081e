// The whole stack end to end: deploy-all, verify-all, the no-op re-run, an interrupted deploy,
// destroy-all, and the faults of the master-scripts issue. Cluster side on a REAL API server with
// KWOK nodes; data side on a REAL PostgreSQL and a REAL Kafka broker.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { REPO, runKit, STACK_TRACE } from '../support/cli.js';
import { installImagePullBackOffStage, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';
import { waitFor } from '../support/poll.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';
import { PINNED_DAPR_CHART } from '../support/paths.js';

const CHART = PINNED_DAPR_CHART;

let cluster: KubeCluster;
let pg: PostgresInstance;
let kafka: KafkaInstance;
let pgUrl: string;

const endpoints = () => ['--pg-url', pgUrl, '--kafka-brokers', kafka.brokers.join(',')];
const kit = (script: string, args: string[], opts: { c?: KubeCluster; signalWhen?: { signal: NodeJS.Signals; stderr: RegExp } } = {}) => {
  const c = opts.c ?? cluster;
  return runKit(script, ['--context', c.context, ...args], { env: { ...c.env, LEARNFLOW_DAPR_CHART: CHART }, timeoutMs: 300_000, signalWhen: opts.signalWhen });
};
const report = (stdout: string) => JSON.parse(stdout) as Report;
const secretValue = async (name: string, key: string, ns = 'learnflow') =>
  Buffer.from(await cluster.kubectl(['get', 'secret', name, '-n', ns, '-o', `jsonpath={.data.${key}}`]), 'base64').toString();

/** Every file the kit wrote under .learnflow/, as text. */
function kitFiles(): string {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = path.join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(readFileSync(p, 'utf8'));
    }
  };
  try {
    walk(path.join(REPO, '.learnflow'));
  } catch {
    /* nothing written yet */
  }
  return out.join('\n');
}

const outputs: string[] = [];

beforeAll(async () => {
  // Each assigned as it comes, so afterAll stops those that started when another one failed.
  await Promise.all([
    startKubeCluster({ name: 'e2e-stack', nodeCpu: '8', nodeMemory: '16Gi' }).then((c) => (cluster = c)),
    startPostgres().then((p) => (pg = p)),
    startKafka().then((k) => (kafka = k)),
  ]);
  pgUrl = await pg.createDatabase('learnflow');
}, 240_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), pg?.stop(), kafka?.stop()]);
});

describe('deploy-all and verify-all', () => {
  it('deploys the stack green, every object accepted by the real API server, with took vs budget', { timeout: 300_000 }, async () => {
    const r = await kit('deploy-all.mts', [...endpoints(), '--json']);
    outputs.push(r.stdout, r.stderr);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rep = report(r.stdout);
    expect(rep.steps.map((s) => [s.name, s.ok, s.budgetMs])).toEqual([
      ['kafka', true, 600_000],
      ['postgres', true, 600_000],
      ['dapr', true, 300_000],
    ]);
    expect(rep.budgetMs).toBe(1_800_000);
    expect(r.stderr).toContain('preflight passed');
    const pvcs = JSON.parse(await cluster.kubectl(['get', 'pvc', '-A', '-o', 'json'])) as {
      items: { metadata: { name: string }; status: { phase: string } }[];
    };
    expect(pvcs.items.map((p) => p.metadata.name)).toEqual(expect.arrayContaining(['data-postgresql-0']));
    expect(pvcs.items.every((p) => p.status.phase === 'Bound')).toBe(true);
  });

  it('verify-all is green', { timeout: 300_000 }, async () => {
    const r = await kit('verify-all.mts', [...endpoints(), '--skip-probe', '--json']);
    outputs.push(r.stdout, r.stderr);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rep = report(r.stdout);
    expect(rep.steps.map((s) => s.name)).toEqual(['verify-kafka', 'verify-postgres', 'verify-dapr']);
    expect(rep.steps.flatMap((s) => s.checks).filter((c) => !c.ok)).toEqual([]);
  });

  it('deploy-all ended by saying how to connect; status.mts shows each component and where its credentials are kept', { timeout: 120_000 }, async () => {
    const connect = (report(outputs[0]!) as Report & { data: { howToConnect: string[] } }).data.howToConnect.join('\n');
    expect(connect).toContain('How to connect');
    expect(connect).toContain('Secret student-api-db');
    const r = await kit('status.mts', ['--no-data', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const sections = (report(r.stdout) as Report & { data: { status: { component: string; ok: boolean; facts: string[]; credentials: string[] }[] } }).data
      .status;
    expect(sections.map((x) => [x.component, x.ok])).toEqual([
      ['Kafka', true],
      ['PostgreSQL', true],
      ['Dapr', true],
    ]);
    expect(sections[1]!.credentials).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^learnflow_user \(administrator\): Secret postgresql-credentials, key password$/),
        expect.stringContaining('Secret student-api-db'),
      ]),
    );
    expect(sections[2]!.facts.join(' ')).toMatch(/components: .*kafka-pubsub \(pubsub\.kafka v1\)/);
    // Where, never what: no password on the page.
    const pw = await secretValue('postgresql-credentials', 'password');
    expect(r.stdout + r.stderr).not.toContain(pw);
    const human = await kit('status.mts', ['--no-data']);
    expect(human.stdout).toMatch(/^✓ Kafka\n/);
  });

  it('the re-run changes nothing, keeps the data and finishes in seconds', { timeout: 300_000 }, async () => {
    const pw = await secretValue('postgresql-credentials', 'password');
    const r = await kit('deploy-all.mts', [...endpoints(), '--json']);
    outputs.push(r.stdout, r.stderr);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const changed = report(r.stdout).steps.flatMap((s) =>
      Object.entries(s.changes ?? {})
        .filter(([, v]) => v !== 'unchanged')
        .map(([k, v]) => `${s.name}: ${k} ${v}`),
    );
    expect(changed).toEqual([]);
    // Every object is as the first run left it (its digest and fields, applied.ts), so nothing is applied again;
    // the first run did apply (the same log line).
    const applies = (stderr: string) => stderr.split('\n').filter((l) => /\$ kubectl .*\bapply --server-side/.test(l));
    expect(applies(outputs[1]!).length).toBeGreaterThan(0);
    expect(applies(r.stderr)).toEqual([]);
    expect(await secretValue('postgresql-credentials', 'password')).toBe(pw);
    expect(r.durationMs).toBeLessThan(30_000);
  });

  it(
    'each deploy runs the actions its --dry-run plans, line for line: deploy-all (first run and re-run) and each component script',
    { timeout: 300_000 },
    async () => {
      const actions = (stdout: string) => report(stdout).steps.map((st) => [st.name, st.actions ?? []] as const);
      const planned = await kit('deploy-all.mts', [...endpoints(), '--dry-run', '--json']);
      expect(planned.code, planned.stderr.slice(-2000)).toBe(0);
      const plan = actions(planned.stdout);
      expect(plan.map(([name, a]) => [name, a.length > 2])).toEqual([
        ['kafka', true],
        ['postgres', true],
        ['dapr', true],
      ]);
      // outputs[0]: the first deploy-all's report; outputs[4]: the re-run's.
      expect(actions(outputs[0]!)).toEqual(plan);
      expect(actions(outputs[4]!)).toEqual(plan);
      const scripts = [
        ['scripts/deploy-kafka.mts', 'kafka', ['--kafka-brokers', kafka.brokers.join(',')]],
        ['scripts/deploy-postgres.mts', 'postgres', ['--pg-url', pgUrl]],
        ['scripts/install-dapr.mts', 'dapr', ['--pg-url', pgUrl]],
      ] as const;
      for (const [script, name, args] of scripts) {
        const dry = await kit(script, [...args, '--dry-run', '--json']);
        const real = await kit(script, [...args, '--json']);
        expect(real.code, real.stderr.slice(-2000)).toBe(0);
        expect(actions(real.stdout), script).toEqual(actions(dry.stdout));
        expect(actions(dry.stdout)[0]![0]).toBe(name);
      }
    },
  );

  it(
    '--diff: nothing after a deploy (exit 0); a field changed on the cluster is shown as the deploy would put it back (exit 1) and changes nothing; the deploy then puts it back',
    { timeout: 300_000 },
    async () => {
      const same = await kit('deploy-all.mts', [...endpoints(), '--diff', '--json']);
      expect(same.stderr).not.toMatch(STACK_TRACE);
      expect(same.code, same.stderr.slice(-3000)).toBe(0);
      expect(report(same.stdout).steps.map((st) => [st.name, st.ok])).toEqual([
        ['kafka', true],
        ['postgres', true],
        ['dapr', true],
      ]);
      expect(report(same.stdout).steps.flatMap((st) => st.checks.map((c) => c.name))).toContain('helm release dapr (dapr-system) as deployed');

      const rv = () => cluster.kubectl(['get', 'service', 'kafka', '-n', 'learnflow', '-o', 'jsonpath={.metadata.resourceVersion}']);
      await cluster.kubectl(['label', 'service', 'kafka', '-n', 'learnflow', 'app.kubernetes.io/part-of=somebody-else', '--overwrite']);
      const before = await rv();
      try {
        const changed = await kit('deploy-all.mts', [...endpoints(), '--diff']);
        expect(changed.code, changed.stderr.slice(-3000)).toBe(1);
        expect(changed.stdout).toMatch(/^-\s+app\.kubernetes\.io\/part-of: somebody-else$/m);
        expect(changed.stdout).toMatch(/^\+\s+app\.kubernetes\.io\/part-of: learnflow$/m);
        expect(changed.stderr).toMatch(/\[kafka\] ✗ objects as deployed — would create or change: Service\/kafka$/m);
        expect(changed.stderr).toMatch(/\[postgres\] ✓ objects as deployed — \d+ objects, none would change/);
        expect(changed.stdout + changed.stderr).not.toContain(await secretValue('postgresql-credentials', 'password'));
        expect(await rv()).toBe(before);
        // The deploy puts it back: the Service still carries the kit's digest, but a field the kit applies has
        // another value, so the no-op check (applied.ts) must not skip it.
        const fixed = await kit('deploy-all.mts', [...endpoints(), '--json']);
        expect(fixed.code, fixed.stderr.slice(-3000)).toBe(0);
        expect(report(fixed.stdout).steps.find((st) => st.name === 'kafka')?.changes?.['service/kafka']).toBe('configured');
        expect(await cluster.kubectl(['get', 'service', 'kafka', '-n', 'learnflow', '-o', 'jsonpath={.metadata.labels.app\\.kubernetes\\.io/part-of}'])).toBe(
          'learnflow',
        );
      } finally {
        await cluster.kubectl(['label', 'service', 'kafka', '-n', 'learnflow', 'app.kubernetes.io/part-of=learnflow', '--overwrite']);
      }
      const refused = await kit('deploy-all.mts', [...endpoints(), '--diff', '--dry-run']);
      expect(refused.code).toBe(2);
    },
  );

  it('--dry-run needs no cluster and prints no secret', { timeout: 60_000 }, async () => {
    const r = await runKit('deploy-all.mts', ['--dry-run', '--dapr-chart', CHART], { env: { PATH: process.env.PATH, KUBECONFIG: '/nonexistent' } });
    outputs.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('kind: StatefulSet');
  });

  it(
    '--dry-run pipes into kubectl apply --dry-run=server: everything accepted but the Secrets, whose placeholders are refused',
    { timeout: 120_000 },
    async () => {
      // helm on PATH (it renders the chart offline from the local copy), no cluster.
      const r = await runKit('deploy-all.mts', ['--dry-run', '--dapr-chart', CHART], { env: { PATH: cluster.env.PATH, KUBECONFIG: '/nonexistent' } });
      expect(r.code, r.stderr).toBe(0);
      const { parseAllDocuments, stringify } = await import('yaml');
      const docs = parseAllDocuments(r.stdout);
      expect(docs.flatMap((d) => d.errors.map((e) => e.message))).toEqual([]);
      const objects = docs
        .map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
        .filter((o): o is { kind: string; metadata: { name: string } } => o !== null);
      // The chart's objects are there too (the cluster-wide part: CRDs, ClusterRoles, the injector's webhook).
      expect(objects.map((o) => o.kind)).toEqual(
        expect.arrayContaining(['CustomResourceDefinition', 'ClusterRole', 'MutatingWebhookConfiguration', 'Component', 'StatefulSet']),
      );
      const stream = (xs: object[]) => xs.map((o) => `---\n${stringify(o)}`).join('');
      const { spawnSync } = await import('node:child_process');
      const apply = (input: string) =>
        spawnSync(
          'kubectl',
          ['--context', cluster.context, 'apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=dry-run-test', '-f', '-'],
          { input, env: cluster.env, encoding: 'utf8' },
        );
      const rest = apply(stream(objects.filter((o) => o.kind !== 'Secret')));
      expect(rest.status, rest.stderr).toBe(0);
      // The kit's Secrets (the chart's own may be empty until sentry fills them in).
      const secrets = objects.filter(
        (o) => o.kind === 'Secret' && (o.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/managed-by'] === 'learnflow-kit',
      );
      expect(secrets.length).toBeGreaterThan(0);
      for (const secret of secrets) {
        const a = apply(stream([secret]));
        expect(a.status, `Secret ${secret.metadata.name} was accepted`).not.toBe(0);
        expect(a.stderr).toMatch(/base64|illegal/i);
      }
    },
  );
});

describe('security posture of the namespace', () => {
  it('admits a LearnFlow service written like seed 003 (restricted warnings only) and rejects a privileged pod', { timeout: 60_000 }, async () => {
    const { spawnSync } = await import('node:child_process');
    const seed003 = `apiVersion: apps/v1
kind: Deployment
metadata: { name: student-api, namespace: learnflow }
spec:
  replicas: 1
  selector: { matchLabels: { app: student-api } }
  template:
    metadata:
      labels: { app: student-api }
      annotations: { dapr.io/enabled: "true", dapr.io/app-id: student-api, dapr.io/app-port: "3001" }
    spec:
      containers: [{ name: student-api, image: "student-api:latest", ports: [{ containerPort: 3001 }] }]
`;
    const ok = spawnSync('kubectl', ['--context', cluster.context, 'apply', '-f', '-'], { env: cluster.env, input: seed003, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/would violate PodSecurity "restricted/);
    const privileged = `apiVersion: v1
kind: Pod
metadata: { name: privileged, namespace: learnflow }
spec: { containers: [{ name: c, image: busybox:1.36, securityContext: { privileged: true } }] }
`;
    const bad = spawnSync('kubectl', ['--context', cluster.context, 'apply', '-f', '-'], { env: cluster.env, input: privileged, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/violates PodSecurity "baseline/);
    await cluster.kubectl(['delete', 'deployment', 'student-api', '-n', 'learnflow', '--wait=false']);
  });
});

describe('faults', () => {
  it('an image that cannot be pulled: exit 1 within 30 s, reason and fix, diagnostics bundle written, secrets redacted', { timeout: 120_000 }, async () => {
    await installImagePullBackOffStage(cluster, { labelKey: 'app.kubernetes.io/name', labelValue: 'kafka', name: 'kafka-pull-fault' });
    try {
      const r = await kit('deploy-all.mts', [...endpoints(), '--namespace', 'pullfail', '--skip', 'dapr']);
      outputs.push(r.stdout, r.stderr);
      expect(r.code).toBe(1);
      expect(r.durationMs).toBeLessThan(30_000);
      expect(r.stderr).toMatch(/ImagePullBackOff/);
      expect(r.stderr).toContain('docs/troubleshooting.md#imagepullbackoff');
      expect(r.stderr).toMatch(/diagnostics bundle: \.learnflow\/diagnostics\//);
      expect(r.stdout).toMatch(/kafka\s+\S+\s+10m00s\s+FAILED/);
    } finally {
      await cluster.kubectl(['delete', 'stage', 'kafka-pull-fault']);
    }
  });

  it('the generated passwords appear in no file the kit wrote and in none of its output', async () => {
    const stateStore = / password=(\S+) /.exec(await secretValue('dapr-statestore', 'connectionString'))?.[1] ?? '';
    const secrets = [await secretValue('postgresql-credentials', 'password'), await secretValue('postgresql-credentials', 'password', 'pullfail'), stateStore];
    for (const s of secrets) expect(s.length).toBeGreaterThan(10);
    const haystack = outputs.join('\n') + kitFiles();
    expect(haystack.length).toBeGreaterThan(1000);
    for (const s of secrets) expect(haystack).not.toContain(s);
  });

  it('nodes too small for the stack: exit 3 before anything changes, with the hint', { timeout: 240_000 }, async () => {
    const small = await startKubeCluster({ name: 'e2e-small', nodeCpu: '1', nodeMemory: '1Gi' });
    try {
      const r = await kit('deploy-all.mts', endpoints(), { c: small });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/not enough CPU and memory: the stack requests/);
      expect(r.stderr).toContain('docs/troubleshooting.md#not-enough-resources');
      expect(await small.kubectl(['get', 'namespace', 'learnflow', '--ignore-not-found'])).toBe('');
    } finally {
      await small.stop();
    }
  });

  it('a deploy interrupted with SIGINT stops cleanly, and the re-run converges', { timeout: 300_000 }, async () => {
    const r = await kit('deploy-all.mts', [...endpoints(), '--namespace', 'sigint', '--skip', 'dapr'], {
      signalWhen: { signal: 'SIGINT', stderr: /\[kafka\] • starting/ },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/interrupted/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const again = await kit('deploy-all.mts', [...endpoints(), '--namespace', 'sigint', '--skip', 'dapr', '--json']);
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    const v = await kit('verify-all.mts', [...endpoints(), '--namespace', 'sigint', '--skip', 'dapr']);
    expect(v.code, v.stderr.slice(-2000)).toBe(0);
  });
});

describe('destroy-all', () => {
  it('refuses without a terminal unless --yes; keeps the claims unless --purge', { timeout: 300_000 }, async () => {
    const refused = await kit('destroy-all.mts', ['--namespace', 'sigint', '--skip', 'dapr']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');

    const kept = await kit('destroy-all.mts', ['--namespace', 'sigint', '--skip', 'dapr', '--yes']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(await cluster.kubectl(['get', 'statefulsets', '-n', 'sigint', '-o', 'name'])).toBe('');
    const claims = await cluster.kubectl(['get', 'pvc', '-n', 'sigint', '-o', 'name']);
    expect(claims).toContain('data-postgresql-0');
    expect(await cluster.kubectl(['get', 'secret', 'postgresql-credentials', '-n', 'sigint', '-o', 'name'])).toContain('postgresql-credentials');

    const purged = await kit('destroy-all.mts', ['--namespace', 'sigint', '--skip', 'dapr', '--yes', '--purge']);
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stderr).toMatch(/persistentvolumeclaim\/data-kafka-0 deleted/);
    // Deleted without waiting (as kubectl delete --wait=false): a claim stays Terminating until the pod that used it
    // (deleted by the run before, on a loaded machine still going) is gone.
    await waitFor('the claims to go', async () => ((await cluster.kubectl(['get', 'pvc', '-n', 'sigint', '-o', 'name'])) === '' ? true : undefined), {
      timeoutMs: 60_000,
    });
  });
});
