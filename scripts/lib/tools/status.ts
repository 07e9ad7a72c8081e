// ./status.mts: what runs and how to reach it, one screen per component: versions, pods and their readiness, claims
// and sizes, topics, migrations, Dapr components, the services' databases; the in-cluster addresses and the laptop
// endpoints; where each credential is kept (the Secret and key, never the value); and the next command when
// something is off. Read only: nothing is changed. deploy-all ends with the short form.

import type { StepCtx } from '../kube/context.js';
import { runStep } from '../kube/steps.js';
import { errorMessage } from '../core/errors.js';
import { Helm } from '../kube/helm.js';
import type { RunResult, ScriptDef } from '../kube/script.js';
import { ensureClusterReachable } from '../preflight/checks.js';
import { MIGRATIONS_TABLE } from '../components/postgres/migrate.js';
import { withPostgres } from '../components/shared/postgres-connection.js';
import { DB_NAME, DB_USER, SECRET_NAME } from '../components/shared/postgres-credentials.js';
import { DEFAULT_SERVICE_DATABASES, loadServiceDatabases } from '../components/postgres/service-databases.js';
import { flagPath } from '../core/config.js';
import { connectKafka, openEndpoint } from '../components/shared/kafka-client.js';
import { inClusterBootstrap, localBootstrap, STATEFULSET as KAFKA_STS } from '../components/shared/kafka-topology.js';
import { DAPR_NAMESPACE, RELEASE, STATESTORE_SECRET } from '../components/dapr/settings.js';
import { withTimeout } from '../core/wait.js';

export interface StatusSection {
  component: string;
  ok: boolean;
  /** One line each: what is deployed. */
  facts: string[];
  /** How to reach it, in the cluster and from the laptop. */
  endpoints: string[];
  /** Where each credential is kept: Secret and key, never the value. */
  credentials: string[];
  /** The command to run when something is off. */
  next?: string;
}

interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; containerStatuses?: { ready?: boolean; restartCount?: number; state?: { waiting?: { reason?: string } } }[] };
}
interface ClaimJson {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; capacity?: { storage?: string } };
}
interface WorkloadJson {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { replicas?: number };
  status?: { readyReplicas?: number };
}

const podLine = (p: PodJson) => {
  const cs = p.status?.containerStatuses ?? [];
  const ready = cs.length > 0 && cs.every((c) => c.ready);
  const waiting = cs.find((c) => c.state?.waiting?.reason)?.state?.waiting?.reason;
  const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  return { ready, text: `pod ${p.metadata.name}: ${ready ? 'ready' : (waiting ?? p.status?.phase ?? 'unknown')}${restarts ? `, ${restarts} restart(s)` : ''}` };
};

/** Reads everything with a handful of kubectl calls; the data-plane reads (topics, migrations) are bounded. */
export async function collectStatus(ctx: StepCtx, o: { data: boolean }): Promise<StatusSection[]> {
  const ns = ctx.config.namespace;
  const [workloads, pods, claims, secrets] = await Promise.all([
    ctx.kube.list<WorkloadJson>('statefulset,deployment'),
    ctx.kube.list<PodJson>('pods'),
    ctx.kube.list<ClaimJson>('pvc'),
    ctx.kube.list<{ metadata: { name: string } }>('secret'),
  ]);
  const byName = (kind: string, name: string) => workloads.find((w) => w.kind === kind && w.metadata.name === name);
  const appPods = (app: string) => pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === app).map(podLine);
  const appClaims = (app: string) =>
    claims
      .filter((c) => c.metadata.labels?.['app.kubernetes.io/name'] === app)
      .map((c) => `claim ${c.metadata.name}: ${c.status?.phase ?? '?'}${c.status?.capacity?.storage ? `, ${c.status.capacity.storage}` : ''}`);
  const hasSecret = (name: string) => secrets.some((s) => s.metadata.name === name);
  const sections: StatusSection[] = [];

  // Kafka
  {
    const sts = byName('StatefulSet', KAFKA_STS);
    const p = appPods('kafka');
    const brokers = sts?.spec?.replicas ?? 0;
    const facts = sts
      ? [
          `apache/kafka ${sts.metadata.labels?.['app.kubernetes.io/version'] ?? '?'}, ${brokers} broker(s), ${sts.status?.readyReplicas ?? 0} ready`,
          ...p.map((x) => x.text),
          ...appClaims('kafka'),
        ]
      : [`not deployed in ${ns}`];
    let ok = Boolean(sts) && p.length > 0 && p.every((x) => x.ready);
    if (sts && o.data) {
      try {
        const session = await connectKafka(ctx, await openEndpoint(ctx, Math.max(1, brokers)));
        try {
          const meta = await withTimeout(
            session.admin.fetchTopicMetadata({ topics: (await session.admin.listTopics()).filter((t) => !t.startsWith('__')) }),
            10_000,
            'reading the topics',
          );
          facts.push(
            `${meta.topics.length} topic(s): ${meta.topics
              .map((t) => `${t.name} (${t.partitions.length})`)
              .sort()
              .join(', ')}`,
          );
        } finally {
          await session.close();
        }
      } catch (err) {
        ok = false;
        facts.push(`topics not read: ${errorMessage(err).split('\n')[0]}`);
      }
    }
    sections.push({
      component: 'Kafka',
      ok,
      facts,
      endpoints: [
        `in the cluster: ${inClusterBootstrap(ns)}`,
        `from the laptop: ${localBootstrap(Math.max(1, brokers)).join(',')} while ./scripts/port-forward.mts start runs`,
      ],
      credentials: ['none: plaintext inside the cluster, limited to pods of the namespace by a NetworkPolicy'],
      next: sts ? (ok ? undefined : `./scripts/verify-kafka.mts -n ${ns}`) : `./scripts/deploy-kafka.mts -n ${ns}`,
    });
  }

  // PostgreSQL
  {
    const sts = byName('StatefulSet', 'postgresql');
    const p = appPods('postgresql');
    const facts = sts
      ? [
          `postgres ${sts.metadata.labels?.['app.kubernetes.io/version'] ?? '?'}, ${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 1} ready`,
          ...p.map((x) => x.text),
          ...appClaims('postgresql'),
        ]
      : [`not deployed in ${ns}`];
    let ok = Boolean(sts) && p.length > 0 && p.every((x) => x.ready);
    const services = (() => {
      try {
        return loadServiceDatabases(flagPath(ctx.config, 'service-databases', ctx.root, DEFAULT_SERVICE_DATABASES)!);
      } catch {
        return [];
      }
    })();
    if (sts && o.data) {
      try {
        await withPostgres(ctx, async (client) => {
          const { rows } = await client.query<{ name: string }>(`SELECT name FROM public.${MIGRATIONS_TABLE} ORDER BY name`);
          facts.push(`${rows.length} migration(s) applied: ${rows.map((r) => r.name).join(', ')}`);
          const { rows: dbs } = await client.query<{ datname: string }>('SELECT datname::text FROM pg_database WHERE datname = ANY($1)', [
            services.map((s) => s.database),
          ]);
          const present = new Set(dbs.map((d) => d.datname));
          if (services.length)
            facts.push(`service databases: ${services.map((s) => `${s.database} (${s.service}${present.has(s.database) ? '' : ': missing'})`).join(', ')}`);
          if (services.some((s) => !present.has(s.database))) ok = false;
        });
      } catch (err) {
        ok = false;
        facts.push(`database not read: ${errorMessage(err).split('\n')[0]}`);
      }
    }
    sections.push({
      component: 'PostgreSQL',
      ok,
      facts,
      endpoints: [
        `in the cluster: postgresql.${ns}.svc.cluster.local:5432, database ${DB_NAME}`,
        'from the laptop: 127.0.0.1:5432 while ./scripts/port-forward.mts start runs',
      ],
      credentials: [
        `${DB_USER} (administrator): Secret ${SECRET_NAME}, key password${hasSecret(SECRET_NAME) ? '' : ' (missing)'}`,
        ...services.map(
          (s) =>
            `${s.role} (${s.service}, database ${s.database}): Secret ${s.secret}, keys url / connectionString / password${hasSecret(s.secret) ? '' : ' (missing)'}`,
        ),
      ],
      next: sts ? (ok ? undefined : `./scripts/verify-postgres.mts -n ${ns}`) : `./scripts/deploy-postgres.mts -n ${ns}`,
    });
  }

  // Dapr
  {
    const facts: string[] = [];
    let ok = true;
    try {
      const release = await new Helm(ctx.exec, ctx.config.context).release(RELEASE, DAPR_NAMESPACE);
      if (!release) {
        ok = false;
        facts.push(`no helm release ${RELEASE} in ${DAPR_NAMESPACE}`);
      } else {
        facts.push(`helm release ${RELEASE}: ${release.status}, chart ${release.chart}${release.app_version ? `, Dapr ${release.app_version}` : ''}`);
        const cp = await ctx.kube.list<WorkloadJson>('statefulset,deployment', { namespace: DAPR_NAMESPACE });
        const notReady = cp.filter((w) => (w.status?.readyReplicas ?? 0) < (w.spec?.replicas ?? 1)).map((w) => w.metadata.name);
        facts.push(`control plane: ${cp.length - notReady.length}/${cp.length} ready${notReady.length ? ` (not ready: ${notReady.join(', ')})` : ''}`);
        if (notReady.length || release.status !== 'deployed') ok = false;
      }
    } catch (err) {
      ok = false;
      facts.push(`control plane not read: ${errorMessage(err).split('\n')[0]}`);
    }
    const components = await ctx.kube.list<{ metadata: { name: string }; spec?: { type?: string; version?: string } }>('components.dapr.io').catch(() => []);
    facts.push(
      components.length
        ? `components: ${components.map((c) => `${c.metadata.name} (${c.spec?.type ?? '?'} ${c.spec?.version ?? ''})`.trim()).join(', ')}`
        : `no Dapr components in ${ns}`,
    );
    if (!components.length) ok = false;
    const zipkin = byName('Deployment', 'zipkin');
    if (zipkin) facts.push(`zipkin: ${(zipkin.status?.readyReplicas ?? 0) > 0 ? 'ready' : 'not ready'} at zipkin.${ns}.svc.cluster.local:9411`);
    sections.push({
      component: 'Dapr',
      ok,
      facts,
      endpoints: [
        'apps: http://localhost:3500 (HTTP) and localhost:50001 (gRPC) inside a pod with the annotation dapr.io/enabled: "true"',
        `components: kafka-pubsub, statestore (annotation dapr.io/config: learnflow-config)`,
      ],
      credentials: [`the state store's login dapr_state: Secret ${STATESTORE_SECRET}, key connectionString${hasSecret(STATESTORE_SECRET) ? '' : ' (missing)'}`],
      next: ok ? undefined : `./scripts/install-dapr.mts -n ${ns} (then ./scripts/verify-dapr.mts)`,
    });
  }
  return sections;
}

export function formatStatus(sections: readonly StatusSection[], short: boolean): string {
  const out: string[] = [];
  for (const s of sections) {
    out.push(`${s.ok ? '✓' : '✗'} ${s.component}`);
    for (const f of short ? s.facts.slice(0, 1) : s.facts) out.push(`    ${f}`);
    for (const e of s.endpoints) out.push(`    ${e}`);
    if (!short) for (const c of s.credentials) out.push(`    credentials: ${c}`);
    if (s.next) out.push(`    next: ${s.next}`);
  }
  return out.join('\n') + '\n';
}

export function statusScript(): ScriptDef {
  return {
    name: 'status',
    summary: [
      'What runs and how to reach it: per component, what is deployed (versions, pods, claims, topics, migrations, Dapr components,',
      "the services' databases), the in-cluster addresses and the laptop endpoints, where each credential is kept (the Secret and key,",
      'never the value), and the next command when something is off. Read only. --short for one line per component.',
    ].join('\n'),
    flags: [
      { name: 'short', kind: 'boolean', description: 'one line per component and its endpoints (what deploy-all prints at its end)' },
      { name: 'no-data', kind: 'boolean', description: 'only what kubectl shows: no port-forward to read topics and migrations' },
    ],
    footer: 'Exit codes: 0 shown (whatever it shows), 2 bad usage, 3 the cluster is not reachable.',
    async run(ctx): Promise<RunResult> {
      if (ctx.config.dryRun) {
        ctx.log.info('dry run: status only reads; nothing to plan');
        return { steps: [], budgetMs: null };
      }
      await ensureClusterReachable(ctx);
      let sections: StatusSection[] = [];
      // A step for its context (port-forwards, cleanup, a deadline); its report is not shown: the page is.
      const step = await runStep(ctx, {
        name: 'status',
        budgetMs: 120_000,
        run: async (s) => void (sections = await collectStatus(s, { data: s.config.flags['no-data'] !== true })),
      });
      if (!step.ok) return { steps: [step], budgetMs: null };
      return { steps: [], budgetMs: null, output: formatStatus(sections, ctx.config.flags.short === true), data: { status: sections } };
    },
  };
}

/** How to connect, from what is known without asking the cluster: what deploy-all prints at its end. */
export function howToConnect(namespace: string, root: string): string {
  const services = (() => {
    try {
      return loadServiceDatabases(`${root}/${DEFAULT_SERVICE_DATABASES}`);
    } catch {
      return [];
    }
  })();
  return (
    [
      'How to connect (./status.mts shows what runs; ./scripts/port-forward.mts start for the laptop endpoints):',
      `  Kafka       ${inClusterBootstrap(namespace)}   laptop: ${localBootstrap(1).join(',')}`,
      `  PostgreSQL  postgresql.${namespace}.svc.cluster.local:5432/${DB_NAME}   laptop: 127.0.0.1:5432   admin login: Secret ${SECRET_NAME}`,
      ...services.map((s) => `              ${s.service}: database ${s.database}, Secret ${s.secret} (url, connectionString)`),
      '  Dapr        apps call http://localhost:3500 (kafka-pubsub, statestore); annotation dapr.io/config: learnflow-config',
    ].join('\n') + '\n'
  );
}
