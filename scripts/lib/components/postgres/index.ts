// The PostgreSQL component: a major upgrade when the pin needs one, the manifests (Secret, StatefulSet, Services,
// TLS when on), then sql/migrations and the services' own databases; and its verify, status and --diff.

import { postgresFlags, PRUNE_FLAG, ROTATE_FLAG, TLS_FLAG, NO_TLS_FLAG } from './flags.js';
import { PG_NAME, PG_PORT, POSTGRES_SELECTOR } from '../shared/postgres-topology.js';
import type { Ctx, StepCtx } from '../../run/context.js';
import { budgetFlag, flagPath, NETWORK_POLICIES_FLAG, NO_CLUSTER_FLAG, NO_NETWORK_POLICIES_FLAG, PG_URL_FLAG, shownPath } from '../../core/config.js';
import { chooseNetworkPolicies, rememberedSettings, renderSettings } from '../../run/remembered.js';
import { errorMessage, StepError, UsageError } from '../../core/errors.js';
import { redactSecrets, type Manifest } from '../../kube/manifests.js';
import { readVersions } from '../../core/repo.js';
import { ensureClusterReachable } from '../../preflight/checks.js';
import { deleteBySelector, labelClaims } from '../../kube/kubectl.js';
import { waitForWorkload } from '../../run/rollout.js';
import type { Component, Plan } from '../types.js';
import { actionList, clusterReady, planLines, runActions, type Action } from '../shared/actions.js';
import { checkData, checkServiceDatabases, checkClusterSide } from './checks.js';
import { withPostgres, type KnownCredentials } from '../shared/postgres-connection.js';
import { passwordForDeploy, SECRET_NAME } from '../shared/postgres-credentials.js';
import { rotateCredentials } from './rotate.js';
import {
  CERT_DAYS,
  chooseTls,
  generateCertificate,
  readTls,
  renderTlsSecret,
  SSLMODE_FOLLOWS_LABEL,
  statefulSetServesTls,
  TLS_SECRET,
  withTls,
  syncClientSslModes,
} from '../shared/postgres-tls.js';
import { renderNamespace, renderPostgres } from './manifests.js';
import { laptopPorts, portsOfSlot, renderStackRecord } from '../shared/stack-record.js';
import { loadMigrations, migrate, MIGRATIONS_FLAG } from './migrate.js';
import { claimOf, FIRST_TEMPLATE, MAJOR_ANNOTATION, majorOf, planMajor, templateFor, type MajorPlan, type Workload } from './major.js';
import { upgradeMajor } from './upgrade.js';
import { applyRecorded } from '../../run/steps.js';
import { DEFAULT_SERVICE_DATABASES, loadServiceDatabases, SERVICE_DATABASES_FLAG, reconcileServiceDatabases } from './service-databases.js';
import { postgresConnect, postgresStatus } from './status.js';
import { postgresForwards } from './forwards.js';

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
  /** The password and certificate the apply used: the data-plane action connects with them, not a re-read. */
  credentials?: KnownCredentials;
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
      plan: `compare the PostgreSQL major the data is on (statefulset/postgresql's image, else its claim's ${MAJOR_ANNOTATION}) with the pin ${pinned}: a minor version rolls; from an older major, a major upgrade with the data kept: dump (pg_dumpall in the running pod), new data directory (pvc/${claimOf(templateFor(majorOf(pinned)))}), restore, verify (row checksums of every database, the services' logins), then statefulset/postgresql switched to it; the old volume kept until you release it. Refused, nothing changed, when it cannot be done safely`,
      run: async (step, run) => {
        const plan = (await readMajor(step, run)).plan;
        step.log.info(plan.line);
        if (plan.kind !== 'upgrade') return;
        const manifests = await desiredPostgres(step, run, plan.newTemplate);
        await upgradeMajor(step, { plan, manifests, services: loadServiceDatabases(serviceDatabasesFile(step)) });
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
      run: (step, run) => migrateAndServe(step, run.tlsOn, run.credentials),
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
  run.credentials = { password, tls: undefined };
  if (tlsChoice.on) {
    const tls = (await readTls(step)) ?? (await generateCertificate(step, ns));
    step.secrets.add(tls.key);
    manifests = [...withTls(manifests), renderTlsSecret(ns, tls)];
    run.credentials.tls = tls;
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

async function migrateAndServe(step: StepCtx, tlsOn: boolean, credentials: KnownCredentials | undefined): Promise<void> {
  const { rotateSecrets: rotate, prune } = postgresFlags(step);
  const migrations = loadMigrations(migrationsDir(step));
  const services = loadServiceDatabases(serviceDatabasesFile(step));
  const result = await withPostgres(
    step,
    async (client, _probe, more) => {
      const applied = await migrate(client, migrations, (name) => step.log.info(`applying ${name}`));
      if (rotate) await rotateCredentials(step, client);
      // The Secrets the services read live in the cluster: without it there is nowhere to keep their passwords.
      if (!step.config.noCluster) await reconcileServiceDatabases(step, { client, more }, services, prune, tlsOn);
      else if (services.length)
        step.log.info(`--no-cluster: the ${services.length} service databases are left alone (their passwords live in Secrets in the cluster)`);
      return applied;
    },
    credentials,
  );
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
  forwards: postgresForwards,
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
