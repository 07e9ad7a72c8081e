// The PostgreSQL component: namespace, Secret, StatefulSet + Services, then sql/migrations.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUDGETS_MS } from '../../budget.js';
import type { Ctx, StepCtx } from '../../context.js';
import { budgetFlag, flagPath, NO_CLUSTER_FLAG, NO_NETWORK_POLICIES_FLAG, PG_URL_FLAG } from '../../config.js';
import type pg from 'pg';
import { errorMessage, StepError, UsageError } from '../../errors.js';
import type { FlagSpec } from '../../flags.js';
import { redactSecrets } from '../../manifests.js';
import { ensureClusterReachable, ensureDefaultStorageClass } from '../../preflight.js';
import { deleteBySelector, labelClaims } from '../../kube.js';
import { waitForWorkload } from '../../rollout.js';
import type { Component, Plan } from '../types.js';
import { checkData } from './checks.js';
import { withPostgres } from './connection.js';
import { DB_USER, generatePassword, passwordForDeploy, SECRET_NAME } from './credentials.js';
import { setRolePassword } from './rotate.js';
import { CERT_DAYS, chooseTls, generateCertificate, readTls, renderTlsSecret, SSLMODE_FOLLOWS_LABEL, statefulSetServesTls, TLS_SECRET, withSslMode, withTls } from './tls.js';
import { renderNamespace, renderPostgres } from './manifests.js';
import { loadMigrations, migrate, shownPath } from './migrate.js';

const ROTATE_FLAG: FlagSpec = {
  name: 'rotate-secrets',
  kind: 'boolean',
  description: 'generate a new password for learnflow_user, set it in PostgreSQL and the Secret, and restart the pod',
};

const TLS_FLAG: FlagSpec = {
  name: 'tls',
  kind: 'boolean',
  description: 'serve PostgreSQL over SSL with a certificate generated once and kept in Secret postgresql-tls (needs openssl); a re-run keeps it on',
};

const NO_TLS_FLAG: FlagSpec = {
  name: 'no-tls',
  kind: 'boolean',
  description: 'stop serving SSL (a re-run without --tls or --no-tls keeps what is deployed); the certificate Secret is kept',
};

export const POSTGRES_SELECTOR = 'app.kubernetes.io/name=postgresql';

const MIGRATIONS_FLAG: FlagSpec = {
  name: 'migrations',
  kind: 'string',
  valueName: 'DIR',
  default: 'sql/migrations',
  description: 'folder of *.sql migrations, applied in name order, each once',
};

function migrationsDir(ctx: Ctx): string {
  return flagPath(ctx.config, 'migrations', ctx.root, 'sql/migrations')!;
}

export const postgres: Component = {
  name: 'postgres',
  title: 'PostgreSQL',
  summaries: {
    deploy:
      'Deploys PostgreSQL into the namespace (official postgres image, 5Gi volume, password generated once and kept in a Secret)\nand applies sql/migrations (9 tables, 24 Python topics, test users). Safe to re-run: nothing applied twice, no data lost.\nWith --no-cluster --pg-url URL it only applies the migrations at URL.',
    verify:
      'Checks PostgreSQL: pod ready, volume bound, Service endpoints, connection, the 9 tables with their columns and foreign keys,\nthe 24 topics, the test users, and a write/read round trip that is rolled back. Runs every check; exit 1 if any failed.\nWith --no-cluster --pg-url URL only the data checks run.',
  },
  deployFlags: [PG_URL_FLAG, NO_CLUSTER_FLAG, MIGRATIONS_FLAG, ROTATE_FLAG, TLS_FLAG, NO_TLS_FLAG, NO_NETWORK_POLICIES_FLAG, budgetFlag('postgres')],
  verifyFlags: [PG_URL_FLAG, NO_CLUSTER_FLAG],

  async plan(ctx: Ctx): Promise<Plan> {
    const ns = ctx.config.namespace;
    const migrations = loadMigrations(migrationsDir(ctx)).map((m) => m.name);
    const tls = ctx.config.flags.tls === true;
    const rendered = [...renderNamespace(ns), ...renderPostgres(ns, '<generated on first deploy>', { networkPolicies: ctx.config.flags['no-network-policies'] !== true })];
    const manifests = ctx.config.noCluster ? [] : redactSecrets(tls ? [...withTls(rendered), renderTlsSecret(ns, { cert: '<generated on first deploy>', key: '<generated on first deploy>' })] : rendered);
    const actions = ctx.config.noCluster
      ? []
      : [
          `check the cluster is reachable and has a default StorageClass`,
          `read Secret ${SECRET_NAME} in ${ns}, or generate a password on first deploy`,
          ...(tls
            ? [`read Secret ${TLS_SECRET}, or generate a self-signed certificate with openssl (${CERT_DAYS} days) on first deploy; serve SSL`]
            : ctx.config.flags['no-tls'] === true
              ? ['serve no SSL (the certificate Secret, if any, is kept)']
              : ['serve SSL if the deployed StatefulSet does (the manifests below show it off; --tls / --no-tls change it)']),
          `set the sslmode of client Secrets labelled ${SSLMODE_FOLLOWS_LABEL} when TLS is turned on or off`,
          `kubectl apply --server-side: ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`,
          `wait for statefulset/postgresql to be ready (budget ${BUDGETS_MS.postgres / 60_000}m)`,
          `open a port-forward to svc/postgresql:5432`,
        ];
    actions.push(`apply the migrations in ${shownPath(migrationsDir(ctx))} not yet applied (${migrations.join(', ')})${ctx.config.pgUrl ? ' at --pg-url' : ''}`);
    return { actions, manifests };
  },

  async deploy(step: StepCtx): Promise<void> {
    if (!step.config.noCluster) {
      if (!step.preflighted) {
        await ensureClusterReachable(step);
        await ensureDefaultStorageClass(step);
      }
      const ns = step.config.namespace;
      const { password, generated } = await passwordForDeploy(step);
      step.log.info(generated ? `generated a password, stored in Secret ${SECRET_NAME}` : `reusing the password in Secret ${SECRET_NAME}`);
      let manifests = [...renderNamespace(ns), ...renderPostgres(ns, password, { networkPolicies: step.config.flags['no-network-policies'] !== true })];
      const live = await step.kube.getOptional<unknown>('statefulset', 'postgresql');
      const liveTls = live === undefined ? undefined : statefulSetServesTls(live);
      const tlsChoice = chooseTls({ tls: step.config.flags.tls === true, noTls: step.config.flags['no-tls'] === true }, liveTls);
      step.log.info(`TLS ${tlsChoice.why}`);
      if (tlsChoice.on) {
        const tls = (await readTls(step)) ?? (await generateCertificate(step, ns));
        step.secrets.add(tls.key);
        manifests = [...withTls(manifests), renderTlsSecret(ns, tls)];
      }
      const outcome = await step.kube.apply(manifests);
      if (step.config.flags['no-network-policies'] === true) await deleteBySelector(step, 'networkpolicy', POSTGRES_SELECTOR);
      for (const [key, what] of Object.entries(outcome)) {
        step.change(key, what);
        step.log.info(`${key} ${what}`);
      }
      await waitForWorkload(step, { kind: 'statefulset', name: 'postgresql', selector: POSTGRES_SELECTOR });
      await labelClaims(step.kube, ['data-postgresql-0']);
      step.log.ok('statefulset/postgresql is ready');
      if (liveTls !== undefined && liveTls !== tlsChoice.on) await syncClientSslModes(step, tlsChoice.on);
    }
    const rotate = step.config.flags['rotate-secrets'] === true;
    if (rotate && step.config.noCluster) throw new UsageError('--rotate-secrets needs the cluster: the password lives in the Secret postgresql-credentials (drop --no-cluster)');
    const migrations = loadMigrations(migrationsDir(step));
    const result = await withPostgres(step, async (client) => {
      const applied = await migrate(client, migrations, (name) => step.log.info(`applying ${name}`));
      if (rotate) await rotateCredentials(step, client);
      return applied;
    });
    for (const name of result.applied) step.change(`migration ${name}`, 'applied');
    for (const name of result.unchanged) step.change(`migration ${name}`, 'unchanged');
    step.log.ok(result.applied.length ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')}` : `schema up to date (${result.unchanged.length} migrations already applied)`);
  },

  async verify(step: StepCtx): Promise<void> {
    if (!step.config.noCluster) {
      if (!step.preflighted) await ensureClusterReachable(step);
      await checkClusterSide(step);
    }
    try {
      await withPostgres(step, (client) => checkData(step, client));
    } catch (err) {
      step.check('connection', false, errorMessage(err));
    }
  },


  owned: [
    { kinds: 'statefulset,service,networkpolicy', selector: POSTGRES_SELECTOR },
    { kinds: 'pvc,secret', selector: POSTGRES_SELECTOR, data: `the database volume and its Secrets (${SECRET_NAME}: the password the data needs)` },
  ],
};

/** TLS was turned on or off: clients that declared their connection string (label) get the matching sslmode. */
async function syncClientSslModes(step: StepCtx, tlsOn: boolean): Promise<void> {
  const mode = tlsOn ? 'require' : 'prefer';
  const secrets = await step.kube.list<{ metadata: { name: string }; data?: Record<string, string> }>('secret', { selector: `${SSLMODE_FOLLOWS_LABEL}=follow` });
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
  await waitForWorkload(step, { kind: 'statefulset', name: 'postgresql', selector: POSTGRES_SELECTOR });
  step.log.ok(`rotated the password of ${DB_USER}; Secret ${SECRET_NAME} updated and statefulset/postgresql restarted (apps that read the Secret at start need a restart too)`);
}

async function checkClusterSide(step: StepCtx): Promise<void> {
  const ns = step.config.namespace;
  await guard(step, 'pod ready', async () => {
    const pods = await step.kube.list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string }[]; phase?: string } }>('pod', { selector: POSTGRES_SELECTOR });
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return [pods.length > 0 && ready.length === pods.length, pods.length ? pods.map((p) => `${p.metadata.name}: ${ready.includes(p) ? 'ready' : (p.status?.phase ?? 'unknown')}`).join(', ') : `no PostgreSQL pod in ${ns}`];
  });
  await guard(step, 'volume bound', async () => {
    const pvcs = await step.kube.list<{ metadata: { name: string }; status?: { phase?: string; capacity?: { storage?: string } } }>('pvc', { selector: POSTGRES_SELECTOR });
    const bound = pvcs.filter((p) => p.status?.phase === 'Bound');
    return [pvcs.length > 0 && bound.length === pvcs.length, pvcs.length ? pvcs.map((p) => `${p.metadata.name}: ${p.status?.phase ?? '?'}${p.status?.capacity?.storage ? ` ${p.status.capacity.storage}` : ''}`).join(', ') : `no PersistentVolumeClaim in ${ns}`];
  });
  await guard(step, 'service endpoints', async () => {
    const slices = await step.kube.list<{ endpoints?: { conditions?: { ready?: boolean } }[] }>('endpointslices', { selector: 'kubernetes.io/service-name=postgresql' });
    const ready = slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    return [ready > 0, ready ? `svc/postgresql has ${ready} ready endpoint(s)` : 'svc/postgresql has no ready endpoints'];
  });
}

async function guard(step: StepCtx, name: string, fn: () => Promise<[boolean, string]>): Promise<void> {
  try {
    const [ok, detail] = await fn();
    step.check(name, ok, detail);
  } catch (err) {
    step.check(name, false, errorMessage(err).split('\n')[0]!);
  }
}
