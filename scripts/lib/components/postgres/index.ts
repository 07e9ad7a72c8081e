// The PostgreSQL component: namespace, Secret, StatefulSet + Services, then sql/migrations.

import { postgresFlags, PRUNE_FLAG, ROTATE_FLAG, TLS_FLAG, NO_TLS_FLAG } from './flags.js';
import { PG_NAME, PG_PORT, pgServiceHost, POSTGRES_SELECTOR } from '../shared/postgres-topology.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Ctx, StepCtx } from '../../run/context.js';
import { budgetFlag, flagPath, NETWORK_POLICIES_FLAG, NO_CLUSTER_FLAG, NO_NETWORK_POLICIES_FLAG, PG_URL_FLAG } from '../../core/config.js';
import { chooseNetworkPolicies, rememberedSettings, renderSettings } from '../../run/remembered.js';
import type pg from 'pg';
import { errorMessage, StepError, UsageError } from '../../core/errors.js';
import { readVersions, redactSecrets, type Manifest } from '../../kube/manifests.js';
import { ensureClusterReachable } from '../../preflight/checks.js';
import { deleteBySelector, labelClaims } from '../../kube/kubectl.js';
import { waitForWorkload } from '../../run/rollout.js';
import type { Component, Plan } from '../types.js';
import { actionList, clusterReady, planLines, runActions, type Action } from '../shared/actions.js';
import { checkData } from './checks.js';
import { withPostgres, type LoginProbe, type PgConnector } from '../shared/postgres-connection.js';
import { DB_NAME, DB_USER, generatePassword, passwordForDeploy, SECRET_NAME } from '../shared/postgres-credentials.js';
import { setRolePassword } from './rotate.js';
import {
  CERT_DAYS,
  chooseTls,
  generateCertificate,
  readTls,
  renderTlsSecret,
  SSLMODE_FOLLOWS_LABEL,
  statefulSetServesTls,
  TLS_SECRET,
  withSslMode,
  withTls,
} from '../shared/postgres-tls.js';
import { renderNamespace, renderPostgres } from './manifests.js';
import { laptopPorts, portsOfSlot, renderStackRecord } from '../shared/stack-record.js';
import { loadMigrations, migrate, MIGRATIONS_FLAG } from './migrate.js';
import { claimOf, FIRST_TEMPLATE, MAJOR_ANNOTATION, majorOf, planMajor, type MajorPlan, type Workload } from './major.js';
import { upgradeMajor } from './upgrade.js';
import { shownPath } from '../../core/config.js';
import { readSecrets, type SecretValues } from '../../kube/secrets.js';
import { applyRecorded, runCheck } from '../../run/steps.js';
import { podReady } from '../../kube/pod-diagnosis.js';
import {
  DEFAULT_SERVICE_DATABASES,
  dropServiceDatabase,
  ensureServiceDatabase,
  loadServiceDatabases,
  orphanedServiceRoles,
  renderServiceSecret,
  type ServiceDatabase,
  SERVICE_DATABASES_FLAG,
} from './service-databases.js';
import { postgresConnect, postgresStatus } from './status.js';

/** PostgreSQL's deadline in a deploy or verify (--budget changes it). */
const BUDGET_MS = 10 * 60_000;

function migrationsDir(ctx: Ctx): string {
  return flagPath(ctx.config, MIGRATIONS_FLAG, ctx.root, 'sql/migrations')!;
}

/** What one deploy learns on its way and hands to the next action. */
interface PostgresRun {
  tlsOn: boolean;
  /** The TLS setting the deployed StatefulSet had before this run (undefined: none was deployed). */
  liveTls?: boolean;
  networkPolicies?: boolean;
  claims?: { metadata: { name: string; labels?: Record<string, string> } }[];
  /** The major of the data against the pin, read with the StatefulSet and its claims (major.ts). */
  major?: MajorPlan;
  /** The StatefulSet and claims as read for it: read once per run (again only after an upgrade changed them). */
  found?: FoundObjects;
}

function plannedManifests(ctx: Ctx): Manifest[] {
  const ns = ctx.config.namespace;
  const rendered = [
    ...renderNamespace(ns),
    renderStackRecord(ns, portsOfSlot(0)),
    ...renderPostgres(ns, '<generated on first deploy>', { networkPolicies: !ctx.config.options.on(NO_NETWORK_POLICIES_FLAG) }),
  ];
  const tls = postgresFlags(ctx).tls;
  return redactSecrets(
    tls ? [...withTls(rendered), renderTlsSecret(ns, { cert: '<generated on first deploy>', key: '<generated on first deploy>' })] : rendered,
  );
}

/** The deploy, in order: what --dry-run shows and what deploy runs. */
function postgresActions(ctx: Ctx): Action<PostgresRun>[] {
  const ns = ctx.config.namespace;
  const cluster = !ctx.config.noCluster;
  const flags = postgresFlags(ctx);
  const tlsPlan = flags.tls
    ? `read Secret ${TLS_SECRET}, or generate a self-signed certificate with openssl (${CERT_DAYS} days) on first deploy; serve SSL`
    : flags.noTls
      ? 'serve no SSL (the certificate Secret, if any, is kept)'
      : 'serve SSL if the deployed StatefulSet does (the manifests show it off; --tls / --no-tls change it)';
  const migrations = loadMigrations(migrationsDir(ctx)).map((m) => m.name);
  const services = cluster ? loadServiceDatabases(serviceDatabasesFile(ctx)) : [];
  const pinned = readVersions().postgres.version;
  return actionList<PostgresRun>(
    cluster && clusterReady<PostgresRun>(),
    cluster && {
      plan: `compare the PostgreSQL major the data is on (statefulset/postgresql's image, else its claim's ${MAJOR_ANNOTATION}) with the pin ${pinned}: a minor version rolls; from an older major, a major upgrade with the data kept: dump (pg_dumpall in the running pod), new data directory (pvc/${claimOf(`data-pg${majorOf(pinned)}`)}), restore, verify (row checksums of every database, the services' logins), then statefulset/postgresql switched to it; the old volume kept until you release it. Refused, nothing changed, when it cannot be done safely`,
      run: async (step, run) => {
        const plan = (await readMajor(step, run)).plan;
        step.log.info(plan.line);
        if (plan.kind !== 'upgrade') return;
        const manifests = await desiredPostgres(step, run, plan.newTemplate);
        await upgradeMajor(step, { plan, manifests, services: loadServiceDatabases(serviceDatabasesFile(step)), mainDb: DB_NAME });
        run.found = undefined;
      },
    },
    cluster && {
      plan: `read Secret ${SECRET_NAME} in ${ns}, or generate a password on first deploy; ${tlsPlan}; then kubectl apply --server-side: ${plannedManifests(ctx)
        .map((m) => `${m.kind}/${m.metadata.name}`)
        .join(', ')} and the remembered settings (ConfigMap/learnflow-settings-postgres; NetworkPolicies as deployed unless a flag says otherwise)`,
      run: async (step, run) => {
        const manifests = await desiredPostgres(step, run);
        if (run.major?.kind === 'upgrade') throw new StepError(`${run.major.line}: not done (the upgrade action did not run)`);
        await applyRecorded(step, manifests);
        if (!run.networkPolicies) await deleteBySelector(step, 'networkpolicy', POSTGRES_SELECTOR);
      },
    },
    cluster && {
      plan: `wait for statefulset/postgresql to be ready; when TLS was turned on or off, set the sslmode of the client Secrets labelled ${SSLMODE_FOLLOWS_LABEL}`,
      run: async (step, run) => {
        await waitForWorkload(step, { kind: 'statefulset', name: PG_NAME, selector: POSTGRES_SELECTOR });
        await labelClaims(step.kube, [claimOf(run.major?.template ?? FIRST_TEMPLATE)], {
          known: run.claims,
          annotations: { [MAJOR_ANNOTATION]: String(majorOf(readVersions().postgres.version)) },
        });
        step.log.ok('statefulset/postgresql is ready');
        if (run.liveTls !== undefined && run.liveTls !== run.tlsOn) await syncClientSslModes(step, run.tlsOn);
      },
    },
    {
      plan: [
        ctx.config.pgUrl ? 'connect to --pg-url' : `open a port-forward to svc/${PG_NAME}:${PG_PORT}`,
        `apply the migrations in ${shownPath(migrationsDir(ctx))} not yet applied (${migrations.join(', ')})`,
        ...(flags.rotateSecrets ? [`rotate the passwords of ${SECRET_NAME} and of every service database`] : []),
        ...(cluster
          ? [
              `give each service of ${shownPath(serviceDatabasesFile(ctx))} its own database, login and Secret (${services.map((s) => s.service).join(', ') || 'none listed'})${flags.prune.length ? `; drop ${flags.prune.join(', ')}` : ''}`,
            ]
          : []),
      ].join('; '),
      run: (step, run) => migrateAndServe(step, run.tlsOn),
    },
  );
}

/**
 * What the deploy applies, read from the cluster as it stands: the kept password (or a new one), the remembered
 * NetworkPolicies setting, TLS as deployed unless a flag says otherwise. Reads only (deploy and --diff).
 */
async function desiredPostgres(step: StepCtx, run: PostgresRun, claimTemplate?: string): Promise<Manifest[]> {
  const ns = step.config.namespace;
  const { password, generated } = await passwordForDeploy(step);
  step.log.info(generated ? `generated a password, stored in Secret ${SECRET_NAME}` : `reusing the password in Secret ${SECRET_NAME}`);
  const mem = await rememberedSettings(step, 'postgres');
  const policies = chooseNetworkPolicies(step.config.options, mem);
  step.log.info(policies.why);
  run.networkPolicies = policies.value;
  const { found, plan } = await readMajor(step, run);
  run.major = plan;
  let manifests = [
    ...renderNamespace(ns),
    renderStackRecord(ns, await laptopPorts(step)),
    ...renderPostgres(ns, password, { networkPolicies: policies.value, claimTemplate: claimTemplate ?? run.major.template }),
  ];
  const live = found.find((o) => o.kind === 'StatefulSet' && o.metadata.name === PG_NAME);
  run.claims = found.filter((o) => o.kind === 'PersistentVolumeClaim');
  run.liveTls = live === undefined ? undefined : statefulSetServesTls(live);
  const tlsChoice = chooseTls(postgresFlags(step), run.liveTls);
  step.log.info(`TLS ${tlsChoice.why}`);
  run.tlsOn = tlsChoice.on;
  if (tlsChoice.on) {
    const tls = (await readTls(step)) ?? (await generateCertificate(step, ns));
    step.secrets.add(tls.key);
    manifests = [...withTls(manifests), renderTlsSecret(ns, tls)];
  }
  return [
    ...manifests,
    renderSettings(ns, 'postgres', { 'app.kubernetes.io/name': PG_NAME }, { networkPolicies: String(policies.value), tls: String(tlsChoice.on) }),
  ];
}

type FoundObjects = (Workload & { metadata: { labels?: Record<string, string> } })[];

/**
 * The StatefulSet and its claims in one call (the claims' labels spare a kubectl label on a re-run), and the major
 * of the data against the pin. Before any change: a major change cannot roll over the old data directory.
 */
async function readMajor(step: StepCtx, run: PostgresRun): Promise<{ found: FoundObjects; plan: MajorPlan }> {
  run.found ??= await step.kube.list<FoundObjects[number]>('statefulset,pvc', { selector: POSTGRES_SELECTOR });
  return { found: run.found, plan: planMajor(readVersions().postgres.version, run.found, step.config.namespace) };
}

async function migrateAndServe(step: StepCtx, tlsOn: boolean): Promise<void> {
  const { rotateSecrets: rotate, prune } = postgresFlags(step);
  const migrations = loadMigrations(migrationsDir(step));
  const services = loadServiceDatabases(serviceDatabasesFile(step));
  const result = await withPostgres(step, async (client, _probe, more) => {
    const applied = await migrate(client, migrations, (name) => step.log.info(`applying ${name}`));
    if (rotate) await rotateCredentials(step, client);
    // The Secrets the services read live in the cluster: without it there is nowhere to keep their passwords.
    if (!step.config.noCluster) await reconcileServiceDatabases(step, { client, more }, services, prune, tlsOn);
    else if (services.length)
      step.log.info(`--no-cluster: the ${services.length} service databases are left alone (their passwords live in Secrets in the cluster)`);
    return applied;
  });
  for (const name of result.applied) step.change(`migration ${name}`, 'applied');
  for (const name of result.unchanged) step.change(`migration ${name}`, 'unchanged');
  step.log.ok(
    result.applied.length
      ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')}`
      : `schema up to date (${result.unchanged.length} migrations already applied)`,
  );
}

export const postgres: Component = {
  name: 'postgres',
  title: 'PostgreSQL',
  budgetMs: BUDGET_MS,
  scripts: { deploy: 'deploy-postgres', verify: 'verify-postgres' },
  readiness: [{ kind: 'statefulset', name: PG_NAME, selector: POSTGRES_SELECTOR }],
  status: postgresStatus,
  connect: postgresConnect,
  summaries: {
    deploy:
      'Deploys PostgreSQL into the namespace (official postgres image, 5Gi volume, password generated once and kept in a Secret)\nand applies sql/migrations (9 tables, 24 Python topics, test users), then gives each service of\nk8s/postgres/service-databases.yaml its own database, login and Secret. Safe to re-run: nothing applied twice, no data lost.\nWith --no-cluster --pg-url URL it only applies the migrations at URL.',
    verify:
      "Checks PostgreSQL: pod ready, volume bound, Service endpoints, connection (and that a wrong password is refused),\nthe 9 tables with their columns and foreign keys, the 24 topics, the test users, a write/read round trip that is rolled\nback, and that each service logs in to its own database and is refused the others'. Runs every check; exit 1 if any failed.\nWith --no-cluster --pg-url URL only the data checks run.",
  },
  deployFlags: [
    PG_URL_FLAG,
    NO_CLUSTER_FLAG,
    MIGRATIONS_FLAG,
    SERVICE_DATABASES_FLAG,
    PRUNE_FLAG,
    ROTATE_FLAG,
    TLS_FLAG,
    NO_TLS_FLAG,
    NO_NETWORK_POLICIES_FLAG,
    NETWORK_POLICIES_FLAG,
    budgetFlag(BUDGET_MS),
  ],
  verifyFlags: [PG_URL_FLAG, NO_CLUSTER_FLAG, SERVICE_DATABASES_FLAG],

  async plan(ctx: Ctx): Promise<Plan> {
    return { actions: planLines(postgresActions(ctx)), manifests: ctx.config.noCluster ? [] : plannedManifests(ctx) };
  },

  async deploy(step: StepCtx): Promise<void> {
    // Bad input is refused before anything changes.
    const { rotateSecrets: rotate, prune } = postgresFlags(step);
    if (rotate && step.config.noCluster)
      throw new UsageError('--rotate-secrets needs the cluster: the password lives in the Secret postgresql-credentials (drop --no-cluster)');
    const services = loadServiceDatabases(serviceDatabasesFile(step));
    const listed = prune.filter((p) => services.some((s) => s.service === p));
    if (listed.length) throw new UsageError(`--prune ${listed.join(',')}: still listed in the service databases file; remove it there first`);
    loadMigrations(migrationsDir(step));
    await runActions(step, postgresActions(step), { tlsOn: false });
  },

  async desired(step: StepCtx) {
    const run: PostgresRun = { tlsOn: false };
    const manifests = await desiredPostgres(step, run);
    // The StatefulSet's diff shows the new image; what the upgrade does around it is said here.
    return { manifests, ...(run.major?.kind === 'upgrade' ? { release: { title: 'PostgreSQL data', changes: [run.major.line] } } : {}) };
  },

  async verify(step: StepCtx): Promise<void> {
    if (!step.config.noCluster) {
      if (!step.preflighted) await ensureClusterReachable(step);
      await checkClusterSide(step);
    }
    try {
      await withPostgres(step, async (client, probe) => {
        await checkData(step, client, probe);
        if (!step.config.noCluster) await checkServiceDatabases(step, probe, loadServiceDatabases(serviceDatabasesFile(step)));
      });
    } catch (err) {
      step.check('connection', false, errorMessage(err));
    }
  },

  owned: [
    { kinds: 'statefulset,service,networkpolicy,configmap,poddisruptionbudget', selector: POSTGRES_SELECTOR },
    { kinds: 'pvc,secret', selector: POSTGRES_SELECTOR, data: `the database volume and its Secrets (${SECRET_NAME}: the password the data needs)` },
  ],
};

function serviceDatabasesFile(ctx: Ctx): string {
  return flagPath(ctx.config, SERVICE_DATABASES_FLAG, ctx.root, DEFAULT_SERVICE_DATABASES)!;
}

/** Each service's role, database and Secret; roles the file no longer names are reported (or dropped with --prune). */
async function reconcileServiceDatabases(
  step: StepCtx,
  db: { client: pg.Client; more?: PgConnector },
  services: readonly ServiceDatabase[],
  prune: readonly string[],
  tlsOn: boolean,
): Promise<void> {
  const { client } = db;
  const ns = step.config.namespace;
  const existing = await readSecrets(
    step,
    services.map((s) => s.secret),
  );
  const passwords = services.map((s) => existing.get(s.secret)?.get('password') ?? generatePassword());
  for (const p of passwords) step.secrets.add(p);
  // With more connections (--pg-url), each service on its own, all at once: CREATE DATABASE copies the template (a
  // quarter second or more each) and the services' databases and logins are independent. Else one after another.
  const more = db.more;
  const ensure = async (s: ServiceDatabase, i: number) => {
    const c = i === 0 || !more ? client : await more();
    try {
      return await ensureServiceDatabase(c, s, passwords[i]!);
    } finally {
      if (c !== client) await c.end().catch(() => {});
    }
  };
  const changes: Awaited<ReturnType<typeof ensureServiceDatabase>>[] = [];
  if (more) {
    const settled = await Promise.allSettled(services.map(ensure));
    // Every one has finished (none is left running on a connection about to close) before the first failure is told.
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const r of settled) if (r.status === 'fulfilled') changes.push(r.value);
  } else {
    for (const [i, s] of services.entries()) changes.push(await ensure(s, i));
  }
  for (const change of changes) for (const [k, v] of Object.entries(change)) step.change(k, v);
  const secrets: Manifest[] = services.map((s, i) =>
    renderServiceSecret(ns, s, passwords[i]!, { host: pgServiceHost(ns), port: PG_PORT, sslmode: tlsOn ? 'require' : 'prefer' }),
  );
  const outcome = await step.kube.apply(secrets);
  for (const [k, v] of Object.entries(outcome)) step.change(k, v);
  if (services.length) step.log.ok(`service databases: ${services.map((s) => `${s.database} (${s.service}, Secret ${s.secret})`).join(', ')}`);
  const pruned: string[] = [];
  for (const orphan of await orphanedServiceRoles(client, services)) {
    const service = orphan.role.replace(/_/g, '-');
    if (!prune.includes(service)) {
      step.log.warn(
        `role ${orphan.role}${orphan.databases.length ? ` and database ${orphan.databases.join(', ')}` : ''} belong to service ${service}, which the service databases file no longer lists: kept (./scripts/deploy-postgres.mts --prune ${service} drops them and their data)`,
      );
      continue;
    }
    for (const [k, v] of Object.entries(await dropServiceDatabase(client, orphan.role, orphan.databases))) step.change(k, v);
    await deleteBySelector(step, 'secret', `learnflow.dev/service=${service}`);
    pruned.push(service);
    step.log.ok(`pruned service ${service}: ${orphan.databases.join(', ') || 'no database'}, role ${orphan.role}, Secret ${service}-db`);
  }
  for (const p of prune.filter((x) => !pruned.includes(x))) step.log.warn(`--prune ${p}: the kit made no database for such a service; nothing dropped`);
}

/**
 * With real logins through the kit's connection path: each service reaches its own database with the password in
 * its Secret, and is refused the others'. A Secret whose password no longer matches is found here.
 */
async function checkServiceDatabases(step: StepCtx, probe: LoginProbe, services: readonly ServiceDatabase[]): Promise<void> {
  const kept = await readSecrets(
    step,
    services.map((s) => s.secret),
  ).catch(() => new Map<string, SecretValues>());
  for (const s of services) {
    const name = `service database ${s.database}`;
    const password = kept.get(s.secret)?.get('password');
    if (!password) {
      step.check(name, false, `no Secret ${s.secret} with a password: run ./scripts/deploy-postgres.mts`);
      continue;
    }
    const own = await probe(s.role, password, s.database);
    if (!own.ok) {
      const why =
        own.code === '28P01'
          ? `the password in Secret ${s.secret} does not match the database's (fix: ./scripts/deploy-postgres.mts sets it again)`
          : own.message;
      step.check(name, false, `${s.role} cannot log in to ${s.database}: ${why}`);
      continue;
    }
    const others = services.filter((o) => o.database !== s.database);
    const let_in = [];
    for (const o of others) if ((await probe(s.role, password, o.database)).ok) let_in.push(o.database);
    step.check(
      name,
      let_in.length === 0,
      let_in.length
        ? `${s.role} can also open ${let_in.join(', ')}: CONNECT is not revoked from PUBLIC there (./scripts/deploy-postgres.mts revokes it)`
        : `${s.role} logs in with Secret ${s.secret}${others.length ? `; refused ${others.map((o) => o.database).join(', ')}` : ''}`,
    );
  }
}

/** TLS was turned on or off: clients that declared their connection string (label) get the matching sslmode. */
async function syncClientSslModes(step: StepCtx, tlsOn: boolean): Promise<void> {
  const mode = tlsOn ? 'require' : 'prefer';
  const secrets = await step.kube.list<{ metadata: { name: string }; data?: Record<string, string> }>('secret', {
    selector: `${SSLMODE_FOLLOWS_LABEL}=follow`,
  });
  for (const secret of secrets) {
    const encoded = secret.data?.connectionString;
    if (!encoded) continue;
    const before = Buffer.from(encoded, 'base64').toString('utf8');
    step.secrets.add(before);
    const after = withSslMode(before, mode);
    if (after === before) continue;
    step.secrets.add(after);
    // The patch goes through a private file: the connection string holds a password, which must not reach argv.
    const encodedAfter = Buffer.from(after).toString('base64');
    step.secrets.add(encodedAfter);
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-patch-'));
    try {
      const file = path.join(dir, 'patch.json');
      writeFileSync(file, JSON.stringify({ data: { connectionString: encodedAfter } }), { mode: 0o600 });
      await step.kube.run(['patch', 'secret', secret.metadata.name, '-n', step.config.namespace, '--type', 'merge', '--patch-file', file], { quiet: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    step.change(`secret/${secret.metadata.name}`, `sslmode=${mode}`);
    step.log.info(`secret/${secret.metadata.name}: sslmode=${mode} (PostgreSQL TLS ${tlsOn ? 'on' : 'off'}); restart the apps that use it to pick it up`);
  }
}

async function rotateCredentials(step: StepCtx, client: pg.Client): Promise<void> {
  const ns = step.config.namespace;
  const password = generatePassword();
  step.secrets.add(password);
  await setRolePassword(client, DB_USER, password);
  // The Secret follows at once: a failure between the two is reported with the way back.
  try {
    await step.kube.apply(renderPostgres(ns, password).filter((m) => m.kind === 'Secret'));
  } catch (err) {
    throw new StepError(`the new password is set in PostgreSQL but the Secret ${SECRET_NAME} could not be updated: ${errorMessage(err)}`, {
      fix: `re-run ./scripts/deploy-postgres.mts --rotate-secrets --namespace ${ns} once the cluster answers`,
    });
  }
  step.change(`secret/${SECRET_NAME}`, 'rotated');
  await step.kube.run(['rollout', 'restart', 'statefulset/postgresql', '-n', ns]);
  await waitForWorkload(step, { kind: 'statefulset', name: PG_NAME, selector: POSTGRES_SELECTOR });
  step.log.ok(
    `rotated the password of ${DB_USER}; Secret ${SECRET_NAME} updated and statefulset/postgresql restarted (apps that read the Secret at start need a restart too)`,
  );
}

async function checkClusterSide(step: StepCtx): Promise<void> {
  const ns = step.config.namespace;
  await runCheck(step, 'pod ready', async () => {
    const pods = await step.kube.list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string }[]; phase?: string } }>('pod', {
      selector: POSTGRES_SELECTOR,
    });
    const ready = pods.filter(podReady);
    return [
      pods.length > 0 && ready.length === pods.length,
      pods.length
        ? pods.map((p) => `${p.metadata.name}: ${ready.includes(p) ? 'ready' : (p.status?.phase ?? 'unknown')}`).join(', ')
        : `no PostgreSQL pod in ${ns}`,
    ];
  });
  await runCheck(step, 'volume bound', async () => {
    const pvcs = await step.kube.list<{ metadata: { name: string }; status?: { phase?: string; capacity?: { storage?: string } } }>('pvc', {
      selector: POSTGRES_SELECTOR,
    });
    const bound = pvcs.filter((p) => p.status?.phase === 'Bound');
    return [
      pvcs.length > 0 && bound.length === pvcs.length,
      pvcs.length
        ? pvcs.map((p) => `${p.metadata.name}: ${p.status?.phase ?? '?'}${p.status?.capacity?.storage ? ` ${p.status.capacity.storage}` : ''}`).join(', ')
        : `no PersistentVolumeClaim in ${ns}`,
    ];
  });
  await runCheck(step, 'service endpoints', async () => {
    const slices = await step.kube.list<{ endpoints?: { conditions?: { ready?: boolean } }[] }>('endpointslices', {
      selector: 'kubernetes.io/service-name=postgresql',
    });
    const ready = slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    return [ready > 0, ready ? `svc/${PG_NAME} has ${ready} ready endpoint(s)` : `svc/${PG_NAME} has no ready endpoints`];
  });
}
