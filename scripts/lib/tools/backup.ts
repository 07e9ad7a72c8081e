// scripts/backup-postgres.mts and scripts/restore-postgres.mts: the whole stack's PostgreSQL to a local folder and
// back (the format: backup/format.ts).
//
// A backup holds every database the kit manages (learnflow with the Dapr state store's schema `dapr`, and each
// service's database), the roles the kit made (dapr_state and the services' logins, with their password verifiers
// and, when the cluster is read, the passwords from their Secrets), and the topic catalogue. Superusers
// (learnflow_user, postgres) are not in it: the target has its own, with the password in its own Secret.
//
// Two ways to reach the database:
// - by default, `kubectl exec` into the PostgreSQL pod and run pg_dump / psql THERE: no local client tools,
//   and always the server's own major version. The password stays in the pod (the container's POSTGRES_PASSWORD).
// - with --pg-url, the local pg_dump / psql, the password handed over in PGPASSWORD (never in argv). The Secrets
//   are still read (and, on restore, made) in the namespace unless --no-cluster.
//
// Each database is plain SQL made with --clean --if-exists: restoring one replaces every object it holds, in a single
// transaction (all or nothing per database). Objects created after the backup are left alone.
//
// Passwords on restore: the target's Secret wins. A service (or daprd) in the target namespace already reads its
// Secret, so restore sets each login's password to the one in that Secret; only when the target has no such Secret
// does the login keep the backup's password (its verifier), and a service's Secret is then made from the password
// the backup took from the source's Secret. So nothing has to restart and no Secret is rewritten under a running app.
//
// A single .sql file (what backup-postgres wrote before the folder format) is still restored, as before: the
// learnflow database only.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flagPath, NO_CLUSTER_FLAG, PG_URL_FLAG, shownPath, YES_FLAG, type KitConfig } from '../core/config.js';
import type { Ctx, StepCtx } from '../run/context.js';
import { CommandError, EnvironmentError, KitError, StepError, UsageError } from '../core/errors.js';
import { formatCommand, type ExecResult } from '../core/exec.js';
import { booleanFlag, flag, type FlagSpec } from '../core/flags.js';
import { ensureClusterReachable } from '../preflight/checks.js';
import { confirm } from '../core/prompt.js';
import { connectPg, describePgUrl, inTransaction } from '../components/shared/postgres-client.js';
import { scramVerifier, verifierMatches } from '../components/shared/postgres-scram.js';
import { literal } from '../components/shared/postgres-roles.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { applyRecorded, runStep } from '../run/steps.js';
import { readSecrets } from '../kube/secrets.js';
import type { Manifest } from '../kube/manifests.js';
import { DB_NAME } from '../components/shared/postgres-credentials.js';
import { statefulSetServesTls } from '../components/shared/postgres-tls.js';
import { pgServiceHost, PG_NAME, POSTGRES_SELECTOR } from '../components/shared/postgres-topology.js';
import { renderServiceSecret, serviceDatabase } from '../components/postgres/service-databases.js';
import { DEFAULT_CATALOGUE, loadCatalogue, TOPICS_FLAG, type Catalogue } from '../components/kafka/catalogue.js';
import { podReady } from '../kube/pod-diagnosis.js';
import { kitVersion } from './images/bundle.js';
import {
  BACKUP_FORMAT,
  databaseSql,
  INVENTORY_SQL,
  MANIFEST,
  roleSql,
  ROLES_FILE,
  secretOf,
  TARGET_SQL,
  TOPICS_FILE,
  type BackupDatabase,
  type BackupManifest,
  type BackupRole,
  type Inventory,
} from './backup/format.js';

export const DEFAULT_BACKUP_DIR = '.learnflow/backups';
export const DUMP_HEADER = '-- PostgreSQL database dump';
export const DUMP_COMPLETE = '-- PostgreSQL database dump complete';
export const DUMP_OPTIONS = ['--clean', '--if-exists', '--no-password'] as const;
const RESTORE_OPTIONS = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction'] as const;

/** In the pod: the container's own credentials, read from its environment by the shell, never from argv. */
const IN_POD_AUTH = 'export PGPASSWORD="$POSTGRES_PASSWORD"; ';
const IN_POD_TARGET = '-U "$POSTGRES_USER" -d "$POSTGRES_DB"';
/** Another database than the container's own (names are plain identifiers: checked by ident()). */
function inPodTarget(db?: string): string {
  if (db === undefined) return IN_POD_TARGET;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(db)) throw new UsageError(`'${db}' is not a database name the kit makes`);
  return `-U "$POSTGRES_USER" -d ${db}`;
}

/** User tables outside the system schemas: a database with any is "not empty". */
export const COUNT_TABLES_SQL = `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

const TIMEOUT_FLAG = flag({
  name: 'timeout',
  kind: 'duration',
  valueName: 'DURATION',
  default: 10 * 60_000,
  description: 'give up on pg_dump / psql after this long',
});

const BACKUP_NO_CLUSTER_FLAG = flag({
  ...NO_CLUSTER_FLAG,
  description: "with --pg-url: read no Secret (the backup then holds the logins' verifiers but not the passwords of their Secrets)",
});

const RESTORE_NO_CLUSTER_FLAG = flag({
  ...NO_CLUSTER_FLAG,
  description: "with --pg-url: read and make no Secret (each login gets the backup's password)",
});

const OUTPUT_FLAG = flag({
  name: 'output',
  short: 'o',
  kind: 'string',
  valueName: 'DIR',
  description: `the folder to write the backup to (default: ${DEFAULT_BACKUP_DIR}/learnflow-<UTC time>); never overwrites anything`,
});

const INPUT_FLAG = flag({
  name: 'input',
  short: 'i',
  kind: 'string',
  valueName: 'DIR',
  description: 'the backup to restore: a folder from backup-postgres.mts (or a single .sql file from an older kit: the learnflow database only); required',
});

const FORCE_FLAG = booleanFlag('force', 'overwrite databases that already hold tables (the objects in the backup are replaced)');

export const BACKUP_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  BACKUP_NO_CLUSTER_FLAG,
  OUTPUT_FLAG,
  { ...TOPICS_FLAG, description: 'the topic catalogue the stack was deployed with, recorded in the backup' },
  TIMEOUT_FLAG,
];

export const RESTORE_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  RESTORE_NO_CLUSTER_FLAG,
  INPUT_FLAG,
  FORCE_FLAG,
  { ...YES_FLAG, description: 'do not ask before overwriting (needed without a terminal)' },
  { ...TOPICS_FLAG, description: "the topic catalogue to compare with the backup's (a difference is reported with the command that applies the backup's)" },
  TIMEOUT_FLAG,
];

/** Where the SQL runs: a pod through kubectl exec, or the local tools against --pg-url. */
type Target = { kind: 'pod'; pod: string; describe: string; server: string } | { kind: 'url'; url: string; describe: string; server: string };

export function timestampName(now: number): string {
  return `learnflow-${new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

function timeoutOf(ctx: Ctx): number {
  return ctx.config.options.get(TIMEOUT_FLAG) ?? 10 * 60_000;
}

/** The URL without its password, and the password: the first goes into argv, the second into PGPASSWORD. */
export function splitPgUrl(url: string): { dbname: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbname: u.toString(), password };
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, db: string | undefined): string {
  if (db === undefined) return url;
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** The database a --pg-url names (the main one of a backup or a restore). */
function urlDatabase(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

function pgEnv(url: string): Record<string, string> {
  const { password } = splitPgUrl(url);
  return { ...(password ? { PGPASSWORD: password } : {}), PGCONNECT_TIMEOUT: '10' };
}

/** A Ready PostgreSQL pod in the namespace. */
export async function findPod(ctx: Ctx): Promise<string> {
  const pods = await ctx.kube.list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }>('pod', {
    selector: POSTGRES_SELECTOR,
  });
  const ready = pods.find(podReady);
  if (!ready) {
    throw new StepError(
      pods.length
        ? `no PostgreSQL pod is ready in namespace ${ctx.config.namespace} (${pods.map((p) => p.metadata.name).join(', ')})`
        : `no PostgreSQL pod in namespace ${ctx.config.namespace}`,
      {
        fix: pods.length
          ? `kubectl describe pod ${pods[0]!.metadata.name} -n ${ctx.config.namespace}`
          : `deploy it (./scripts/deploy-postgres.mts), or pick the namespace with --namespace`,
        docs: 'postgres-unreachable',
      },
    );
  }
  return ready.metadata.name;
}

function plannedTarget(ctx: Ctx): PlannedTarget {
  return ctx.config.pgUrl ? { kind: 'url', url: ctx.config.pgUrl } : { kind: 'pod', pod: PLANNED_POD };
}

async function resolveTarget(ctx: Ctx): Promise<Target> {
  // Without --pg-url everything goes through the cluster: an unreachable one is exit 3 with the fix, not raw kubectl.
  // With it, the cluster is still needed for the Secrets unless --no-cluster.
  if (!ctx.config.noCluster) {
    try {
      await ensureClusterReachable(ctx);
    } catch (err) {
      // With --pg-url the cluster is only where the Secrets are: say how to do without it.
      if (!(err instanceof EnvironmentError) || !ctx.config.pgUrl) throw err;
      throw new EnvironmentError(err.message, {
        fix: `${err.fix ?? ''}; or add --no-cluster (no Secret is read or made: the logins keep the backup's passwords)`.replace(/^; /, ''),
        docs: err.docs,
        cause: err,
      });
    }
  }
  if (ctx.config.pgUrl) {
    const where = describePgUrl(ctx.config.pgUrl);
    return { kind: 'url', url: ctx.config.pgUrl, describe: where, server: where.replace(/\/.*$/, '') };
  }
  const pod = await findPod(ctx);
  const where = `pod ${pod} (namespace ${ctx.config.namespace}${ctx.config.context ? `, context ${ctx.config.context}` : ''})`;
  return { kind: 'pod', pod, describe: `database ${DB_NAME} in ${where}`, server: where };
}

/** `kubectl exec [-i] POD -c postgresql -- sh -c SCRIPT`, with SQL on stdin when there is some. */
function execInPod(ctx: Ctx, pod: string, script: string, opts: { input?: string; timeoutMs: number }): Promise<ExecResult> {
  return ctx.kube.run(inPodArgs(ctx, pod, script, opts.input !== undefined), { input: opts.input, timeoutMs: opts.timeoutMs, quiet: false });
}

function inPodArgs(ctx: Ctx, pod: string, script: string, stdin: boolean): string[] {
  return ['exec', ...(stdin ? ['-i'] : []), '-n', ctx.config.namespace, pod, '-c', PG_NAME, '--', 'sh', '-c', script];
}

/** What a dry-run knows of the target: no pod is looked up, so it is named by its selector. */
type PlannedTarget = { kind: 'pod'; pod: string } | { kind: 'url'; url: string };
const PLANNED_POD = `<ready pod -l ${POSTGRES_SELECTOR}>`;

/**
 * The one command a backup or a restore of one database runs, as data: the run executes it and --dry-run prints it,
 * so the two cannot differ. `file`: where pg_dump writes (the partial file) or what psql reads. `db`: another
 * database than the main one (--pg-url's, or the pod's POSTGRES_DB).
 */
export function toolCommand(
  ctx: Ctx,
  what: 'dump' | 'restore',
  target: PlannedTarget,
  file: string,
  db?: string,
): { cmd: 'kubectl' | 'pg_dump' | 'psql'; args: string[]; stdin?: string } {
  if (target.kind === 'url') {
    const { dbname } = splitPgUrl(withDatabase(target.url, db));
    return what === 'dump'
      ? { cmd: 'pg_dump', args: ['--dbname', dbname, ...DUMP_OPTIONS, '--file', file] }
      : { cmd: 'psql', args: [...RESTORE_OPTIONS, '--dbname', dbname, '--file', file] };
  }
  return what === 'dump'
    ? { cmd: 'kubectl', args: inPodArgs(ctx, target.pod, `${IN_POD_AUTH}exec pg_dump ${inPodTarget(db)} ${DUMP_OPTIONS.join(' ')}`, false) }
    : { cmd: 'kubectl', args: inPodArgs(ctx, target.pod, `${IN_POD_AUTH}exec psql ${RESTORE_OPTIONS.join(' ')} ${inPodTarget(db)} -f -`, true), stdin: file };
}

/** As a person would paste it: kubectl with the run's --context, the password variable named, never its value. */
function showCommand(ctx: Ctx, c: ReturnType<typeof toolCommand>): string {
  const args = c.cmd === 'kubectl' && ctx.config.context ? ['--context', ctx.config.context, ...c.args] : c.args;
  const env = c.cmd === 'kubectl' ? '' : 'PGPASSWORD=<from --pg-url> ';
  return `${env}${formatCommand(c.cmd, args)}${c.stdin ? ` < ${shownPath(c.stdin)}` : ''}`;
}

/** pg_dump / psql failures a user can act on. */
export function explainToolError(err: unknown, tool: 'pg_dump' | 'psql', target: Target): unknown {
  if (err instanceof EnvironmentError && target.kind === 'url') {
    return new EnvironmentError(`${tool} is not installed or not on PATH (needed with --pg-url)`, {
      fix: `install the PostgreSQL client tools of the server's major version (Debian/Ubuntu: apt install postgresql-client; macOS: brew install libpq), or drop --pg-url: the kit then runs ${tool} inside the PostgreSQL pod`,
      docs: 'missing-tools',
    });
  }
  if (!(err instanceof CommandError)) return err;
  const text = err.stderrTail;
  if (/server version mismatch/i.test(text)) {
    return new StepError(`the local pg_dump is older than the server at ${target.describe}: ${lastLine(text)}`, {
      fix: "drop --pg-url (the kit then runs pg_dump inside the pod, which always matches the server), or put a pg_dump of the server's major version first on PATH",
      docs: 'postgres-unreachable',
      cause: err,
    });
  }
  if (
    /connection to server|could not connect|Connection refused|timeout expired|could not translate host name|password authentication failed|no password supplied/i.test(
      text,
    )
  ) {
    return new StepError(`${tool} could not connect to ${target.describe}: ${lastLine(text)}`, {
      fix: target.kind === 'url' ? 'check host, port, user and password in --pg-url' : `kubectl logs ${target.pod} -n <namespace>; is the pod running?`,
      docs: 'postgres-unreachable',
      cause: err,
    });
  }
  if (/invalid command \\restrict/i.test(text)) {
    return new StepError(`this psql is too old for the backup (it has \\restrict lines, written by pg_dump 17.6 / 16.10 / 15.14 and later)`, {
      fix: 'restore without --pg-url (psql inside the pod), or use a psql at least as new as the pg_dump that made the backup',
      cause: err,
    });
  }
  return new StepError(`${tool} failed on ${target.describe}: ${lastLine(text) || err.message}`, { cause: err });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}

/** One query that returns one JSON text (psql -At in the pod, or the pg client), parsed. */
async function queryJson<T>(ctx: Ctx, target: Target, sql: string, db?: string): Promise<T> {
  if (target.kind === 'url') {
    const client = await connectPg(withDatabase(target.url, db));
    try {
      const { rows } = await client.query<{ json: string }>(sql);
      return JSON.parse(rows[0]!.json) as T;
    } catch (err) {
      throw explainSqlError(err, target);
    } finally {
      await client.end().catch(() => {});
    }
  }
  try {
    const r = await execInPod(ctx, target.pod, `${IN_POD_AUTH}exec psql -X -At -v ON_ERROR_STOP=1 ${inPodTarget(db)} -f -`, {
      input: `${sql};\n`,
      timeoutMs: 60_000,
    });
    // The whole output: json_agg puts a line break between elements.
    return JSON.parse(r.stdout.trim() || 'null') as T;
  } catch (err) {
    throw explainSqlError(explainToolError(err, 'psql', target), target);
  }
}

/** Statements for the main database: in one transaction, or each on its own (CREATE DATABASE cannot be in one). */
async function runSql(ctx: Ctx, target: Target, statements: string[], opts: { transaction: boolean }): Promise<void> {
  if (!statements.length) return;
  if (target.kind === 'url') {
    const client = await connectPg(target.url);
    try {
      const all = async () => {
        for (const s of statements) await client.query(s);
      };
      await (opts.transaction ? inTransaction(client, all) : all());
    } catch (err) {
      throw explainSqlError(err, target);
    } finally {
      await client.end().catch(() => {});
    }
    return;
  }
  const options = opts.transaction ? '-X -q -v ON_ERROR_STOP=1 --single-transaction' : '-X -q -v ON_ERROR_STOP=1';
  try {
    await execInPod(ctx, target.pod, `${IN_POD_AUTH}exec psql ${options} ${IN_POD_TARGET} -f -`, {
      input: statements.map((s) => (s.endsWith(';') ? s : `${s};`)).join('\n') + '\n',
      timeoutMs: 60_000,
    });
  } catch (err) {
    throw explainToolError(err, 'psql', target);
  }
}

/** A permission error on pg_authid: the backup reads the logins' verifiers, which only a superuser may. */
function explainSqlError(err: unknown, target: Target): unknown {
  const e = err as { code?: string; message?: string; stderrTail?: string };
  const text = `${e.message ?? ''} ${e.stderrTail ?? ''}`;
  if (e.code === '42501' || /permission denied/i.test(text))
    return new StepError(`PostgreSQL at ${target.describe} refused: ${(e.message ?? '').split('\n')[0]}`, {
      fix: 'connect as a superuser (the kit deploys learnflow_user as one; its password is in the Secret postgresql-credentials): backups read the logins and every database',
      cause: err,
    });
  if (err instanceof KitError) return err;
  return err instanceof Error && !(err instanceof CommandError) ? new StepError(`PostgreSQL at ${target.describe}: ${err.message}`, { cause: err }) : err;
}

async function countTables(ctx: Ctx, target: Target, db?: string): Promise<number> {
  const n = await queryJson<number>(ctx, target, `SELECT (${COUNT_TABLES_SQL})::text AS json`, db);
  return Number(n);
}

/** What a backup file holds, from its text. */
export function inspectDump(text: string): { complete: boolean; tables: number; clean: boolean } {
  return {
    complete: text.includes(DUMP_COMPLETE),
    tables: (text.match(/^CREATE TABLE /gm) ?? []).length,
    clean: /^DROP (TABLE|SCHEMA|EXTENSION|SEQUENCE|INDEX|TYPE|FUNCTION|VIEW)/m.test(text),
  };
}

/** Written next to the target and renamed once complete: a failed backup never leaves half a backup behind. */
function partialOf(out: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.partial`);
}

function resolveOutput(ctx: Ctx): string {
  const given = ctx.config.options.get(OUTPUT_FLAG);
  if (given !== undefined) return path.resolve(process.cwd(), given);
  return path.join(ctx.root, DEFAULT_BACKUP_DIR, timestampName(ctx.clock.now()));
}

function catalogueOf(ctx: Ctx): { catalogue: Catalogue; file: string } {
  const file = flagPath(ctx.config, TOPICS_FLAG, ctx.root, DEFAULT_CATALOGUE)!;
  return { catalogue: loadCatalogue(ctx.root, file), file };
}

const dumpFile = (db: string) => `db/${db}.sql`;

/** pg_dump of one database into `file` (mode 600), checked complete. */
async function dumpDatabase(step: StepCtx, target: Target, file: string, db: string | undefined): Promise<ReturnType<typeof inspectDump>> {
  const c = toolCommand(step, 'dump', target, file, db);
  const timeoutMs = timeoutOf(step);
  try {
    if (target.kind === 'url') {
      writeFileSync(file, '', { mode: 0o600 });
      await step.exec(c.cmd, c.args, { env: pgEnv(target.url), timeoutMs, quiet: false });
    } else {
      const r = await step.kube.run(c.args, { timeoutMs, quiet: false });
      writeFileSync(file, r.stdout, { mode: 0o600 });
    }
  } catch (err) {
    throw explainToolError(err, 'pg_dump', target);
  }
  chmodSync(file, 0o600);
  const info = inspectDump(readFileSync(file, 'utf8'));
  if (!info.complete)
    throw new StepError(`pg_dump of ${db ?? 'the main database'} ended without its "dump complete" line: the backup is incomplete and was not kept`, {
      fix: 'run the backup again; raise --timeout for a large database',
    });
  return info;
}

/** The passwords kept in the roles' Secrets in the namespace (none with --no-cluster). Registered as secrets. */
async function secretPasswords(ctx: Ctx, roles: readonly BackupRole[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ctx.config.noCluster) return out;
  const wanted = roles.flatMap((r) => {
    const s = secretOf(r);
    return s ? [[r.name, s] as const] : [];
  });
  const found = await readSecrets(
    ctx,
    wanted.map(([, s]) => s.name),
  );
  for (const [role, s] of wanted) {
    const value = found.get(s.name)?.get(s.key);
    const password = value === undefined ? undefined : s.password(value);
    if (password) {
      ctx.secrets.add(password);
      out.set(role, password);
    }
  }
  return out;
}

async function backup(step: StepCtx, out: string, topics: { catalogue: Catalogue; file: string }): Promise<BackupManifest> {
  const target = await resolveTarget(step);
  step.log.info(`backing up PostgreSQL at ${target.server}: the kit's databases and logins, to ${shownPath(out)}`);
  const inv = await queryJson<Inventory>(step, target, INVENTORY_SQL);
  for (const r of inv.roles) step.secrets.add(r.verifier ?? undefined);
  const passwords = await secretPasswords(step, inv.roles);
  const partial = partialOf(out);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(path.join(partial, 'db'), { recursive: true, mode: 0o700 });
  chmodSync(partial, 0o700);
  try {
    const databases: BackupDatabase[] = [];
    const all = [{ name: inv.database, owner: inv.owner, kind: 'main' as const }, ...inv.databases.map((d) => ({ ...d, kind: 'service' as const }))];
    for (const d of all) {
      const file = dumpFile(d.name);
      // The main database through the same argument as before (the pod's POSTGRES_DB, or --pg-url's database).
      const info = await dumpDatabase(step, target, path.join(partial, file), d.kind === 'main' ? undefined : d.name);
      databases.push({ name: d.name, kind: d.kind, owner: d.owner, file, tables: info.tables });
      step.log.info(`${d.name}: ${info.tables} tables`);
    }
    const roles: BackupRole[] = inv.roles.map((r) => (passwords.has(r.name) ? { ...r, password: passwords.get(r.name)! } : r));
    writeFileSync(path.join(partial, ROLES_FILE), JSON.stringify(roles, null, 2) + '\n', { mode: 0o600 });
    writeFileSync(path.join(partial, TOPICS_FILE), readFileSync(topics.file, 'utf8'), { mode: 0o600 });
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      kitVersion: kitVersion(step.root),
      serverVersion: inv.server,
      createdAt: new Date(step.clock.now()).toISOString(),
      namespace: step.config.namespace,
      databases,
      roles: roles.map((r) => r.name),
      superusers: inv.superusers,
      schemas: inv.schemas.map((s) => ({ database: inv.database, ...s })),
      secretPasswords: !step.config.noCluster,
      topics: {
        file: TOPICS_FILE,
        source: shownPath(topics.file),
        topics: topics.catalogue.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions,
          retentionMs: t.retentionMs,
          compression: t.compression,
          cleanupPolicy: t.cleanupPolicy,
          config: t.config,
        })),
      },
    };
    writeFileSync(path.join(partial, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    renameSync(partial, out);
    const size = databases.reduce((n, d) => n + statSync(path.join(out, d.file)).size, 0);
    const missing = roles.filter((r) => secretOf(r) && !r.password).map((r) => r.name);
    if (!step.config.noCluster && missing.length)
      step.log.warn(`no Secret with a password in namespace ${step.config.namespace} for ${missing.join(', ')}: the backup holds only their verifiers`);
    step.check(
      'backup',
      true,
      `${databases.map((d) => `${d.name} (${d.tables} tables)`).join(', ')}; roles ${roles.map((r) => r.name).join(', ') || 'none'}; ${manifest.topics!.topics.length} topics; ${formatBytes(size)} -> ${shownPath(out)} (mode 700: it holds your data and the services' passwords)`,
    );
    step.change(shownPath(out), 'written');
    return manifest;
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function backupScript(): ScriptDef {
  return {
    name: 'backup-postgres',
    summary: [
      "Backs up the stack's PostgreSQL to a local folder: every database the kit manages (learnflow with the Dapr state",
      "store's schema, and each service's database), one pg_dump --clean --if-exists each; the logins the kit made",
      "(dapr_state and the services', with the passwords of their Secrets); and the topic catalogue; with a manifest.json.",
      "By default pg_dump runs inside the PostgreSQL pod (kubectl exec): no local client tools needed, always the server's version.",
      'With --pg-url URL (a superuser) the local pg_dump is used instead (password through PGPASSWORD, never on the command line).',
      'Restore with ./scripts/restore-postgres.mts --input DIR.',
    ].join('\n'),
    flags: BACKUP_FLAGS,
    footer:
      'Exit codes: 0 backed up, 1 pg_dump failed or the database is unreachable, 2 bad usage, 3 environment not ready (missing tool, no cluster).\nTroubleshooting: docs/troubleshooting.md#postgres-unreachable; guide: docs/operations.md#backup-and-restore',
    checkUsage: (config) => {
      if (config.noCluster && !config.pgUrl) throw new UsageError('--no-cluster needs --pg-url: without it the backup runs in the pod');
    },
    async run(ctx): Promise<RunResult> {
      const out = resolveOutput(ctx);
      if (existsSync(out))
        throw new UsageError(`${shownPath(out)} already exists; a backup never overwrites anything`, {
          fix: 'pick another --output, or remove the old backup first',
        });
      const topics = catalogueOf(ctx);
      if (ctx.config.dryRun) {
        const partial = partialOf(out);
        const target = plannedTarget(ctx);
        const main = target.kind === 'url' ? urlDatabase(target.url) : DB_NAME;
        const c = toolCommand(ctx, 'dump', target, path.join(partial, dumpFile(main)));
        ctx.log.info('dry run: nothing was contacted');
        return {
          steps: [],
          budgetMs: null,
          output: [
            `# would read the kit's databases and logins (dapr_state, the services' logins: their verifiers) from ${target.kind === 'url' ? describePgUrl(target.url) : `the PostgreSQL pod in ${ctx.config.namespace}`}`,
            ...(ctx.config.noCluster ? [] : [`# would read the logins' passwords from their Secrets in namespace ${ctx.config.namespace}`]),
            `# would run: ${showCommand(ctx, c)}${c.cmd === 'kubectl' ? ` > ${shownPath(path.join(partial, dumpFile(main)))}` : ''}`,
            `# and the same for each service database DB (-d DB) into ${shownPath(path.join(partial, 'db'))}/DB.sql`,
            `# would record ${shownPath(topics.file)} (${topics.catalogue.topics.length} topics) as ${TOPICS_FILE}, and ${ROLES_FILE}, ${MANIFEST}`,
            `# then, once it is complete, rename ${shownPath(partial)} to: ${shownPath(out)}`,
          ].join('\n'),
        };
      }
      let manifest: BackupManifest | undefined;
      const step = await runStep(ctx, {
        name: 'backup-postgres',
        budgetMs: null,
        run: async (s) => {
          manifest = await backup(s, out, topics);
        },
      });
      return {
        steps: [step],
        budgetMs: null,
        ...(step.ok ? { artifacts: { backup: shownPath(out) } } : {}),
        ...(manifest
          ? {
              data: {
                backup: shownPath(out),
                databases: manifest.databases.map((d) => ({ name: d.name, tables: d.tables })),
                roles: manifest.roles,
                topics: manifest.topics?.topics.length ?? 0,
              },
            }
          : {}),
      };
    },
  };
}

/** A backup file a restore accepts: pg_dump's plain SQL, complete. The dry-run refuses what the run refuses. */
function readBackup(file: string): { text: string; info: ReturnType<typeof inspectDump> } {
  const shown = shownPath(file);
  const text = readFileSync(file, 'utf8');
  const info = inspectDump(text);
  if (!text.slice(0, 2048).includes(DUMP_HEADER))
    throw new UsageError(`${shown} is not a plain-SQL pg_dump backup (no "${DUMP_HEADER}" header)`, {
      fix: 'give a file written by ./scripts/backup-postgres.mts',
    });
  if (!info.complete)
    throw new UsageError(`${shown} is incomplete (no "${DUMP_COMPLETE}" line): refusing to restore half a backup`, { fix: 'use another backup' });
  return { text, info };
}

async function restore(step: StepCtx, file: string, ask: (q: string) => Promise<boolean>, interactive: () => boolean): Promise<void> {
  const { text, info } = readBackup(file);
  const target = await resolveTarget(step);
  step.log.warn(
    `${shownPath(file)} is a single-file backup (an older kit's): it holds the learnflow database only, not the services' databases nor the logins`,
  );
  const existing = await countTables(step, target);
  if (existing > 0) {
    const what = `${target.describe}, which holds ${existing} table(s)`;
    const o = step.config.options;
    if (!o.on(FORCE_FLAG))
      throw new UsageError(`refusing to overwrite ${what}`, { fix: `add --force to replace its contents with the backup (${info.tables} tables)` });
    if (!info.clean)
      throw new UsageError(`${shownPath(file)} was made without --clean, so it cannot replace existing tables`, {
        fix: 'restore it into an empty database, or use a backup from ./scripts/backup-postgres.mts',
      });
    if (!o.on(YES_FLAG)) {
      if (!interactive()) throw new UsageError(`refusing to overwrite ${what} without confirmation: no terminal to ask`, { fix: 'add --yes' });
      if (!(await ask(`Overwrite ${what}, with ${shownPath(file)}?`))) throw new UsageError('not confirmed; nothing was restored');
    }
  }
  step.log.info(`restoring ${shownPath(file)} (${info.tables} tables) into ${target.describe}, in one transaction`);
  const timeoutMs = timeoutOf(step);
  const c = toolCommand(step, 'restore', target, file);
  try {
    if (target.kind === 'url') await step.exec(c.cmd, c.args, { env: pgEnv(target.url), timeoutMs, quiet: false });
    else await step.kube.run(c.args, { input: text, timeoutMs, quiet: false });
  } catch (err) {
    throw withNothingChanged(explainToolError(err, 'psql', target));
  }
  const after = await countTables(step, target);
  step.check('restore', after >= info.tables, `${info.tables} tables from ${shownPath(file)}; the database now holds ${after}`);
  step.change(target.describe, existing > 0 ? 'overwritten' : 'restored');
}

function withNothingChanged(err: unknown): unknown {
  if (err instanceof StepError)
    return new StepError(`${err.message} (the restore ran in one transaction: nothing was changed)`, {
      fix: (err as KitError).fix,
      docs: (err as KitError).docs,
      cause: err,
    });
  return err;
}

/** A stack backup as restore reads it: everything checked before anything is contacted. */
interface StackBackup {
  dir: string;
  manifest: BackupManifest;
  roles: BackupRole[];
  dumps: Map<string, { file: string; text: string; info: ReturnType<typeof inspectDump> }>;
}

function readStackBackup(dir: string): StackBackup {
  const shown = shownPath(dir);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as BackupManifest;
  } catch (err) {
    throw new UsageError(`${shown}/${MANIFEST} is not readable JSON: ${(err as Error).message.split('\n')[0]}`, {
      fix: 'give a folder written by ./scripts/backup-postgres.mts',
    });
  }
  if (manifest?.format !== BACKUP_FORMAT)
    throw new UsageError(`${shown} is not a backup this kit reads (format ${JSON.stringify(manifest?.format)}, expected ${BACKUP_FORMAT})`, {
      fix: 'restore it with the kit version that made it (its manifest.json says which), or make a new backup',
    });
  const dumps: StackBackup['dumps'] = new Map();
  for (const d of manifest.databases) {
    const file = path.join(dir, d.file);
    if (!existsSync(file))
      throw new UsageError(`${shown} lacks ${d.file} (database ${d.name}): refusing to restore part of a backup`, { fix: 'use another backup' });
    const text = readFileSync(file, 'utf8');
    const info = inspectDump(text);
    if (!text.slice(0, 2048).includes(DUMP_HEADER) || !info.complete)
      throw new UsageError(`${shown}/${d.file} is not a complete pg_dump (database ${d.name}): refusing to restore half a backup`, {
        fix: 'use another backup',
      });
    dumps.set(d.name, { file, text, info });
  }
  let roles: BackupRole[];
  try {
    roles = JSON.parse(readFileSync(path.join(dir, ROLES_FILE), 'utf8')) as BackupRole[];
  } catch (err) {
    throw new UsageError(`${shown}/${ROLES_FILE} is not readable JSON: ${(err as Error).message.split('\n')[0]}`, { fix: 'use another backup' });
  }
  if (!manifest.databases.some((d) => d.kind === 'main')) throw new UsageError(`${shown}: the manifest names no main database`, { fix: 'use another backup' });
  return { dir, manifest, roles, dumps };
}

/** The target's name of each database of the backup: the main one is the target's own (--pg-url's, POSTGRES_DB). */
function targetName(d: BackupDatabase, mainDb: string): string {
  return d.kind === 'main' ? mainDb : d.name;
}

/** Each role's password in the target: its Secret's when there is one (the target's apps read it), else the backup's. */
interface RolePlan {
  role: BackupRole;
  verifier: string | undefined;
  /** Where the password comes from, for the log (never the password). */
  from: string;
  /** The password the login must take, when known (the Secret's, or the one the backup took from the source's). */
  password?: string;
  /** A service Secret to make in the target from the backup's password. */
  makeSecret?: { service: string; database: string };
}

async function planRoles(step: StepCtx, b: StackBackup): Promise<RolePlan[]> {
  const useCluster = !step.config.noCluster;
  const wanted = b.roles.flatMap((r) => (secretOf(r) ? [secretOf(r)!.name] : []));
  const inTarget = useCluster ? await readSecrets(step, wanted) : new Map();
  return b.roles.map((role) => {
    step.secrets.add(role.password);
    step.secrets.add(role.verifier ?? undefined);
    const s = secretOf(role);
    const value = s ? inTarget.get(s.name)?.get(s.key) : undefined;
    const fromSecret = value === undefined ? undefined : s!.password(value);
    if (fromSecret) {
      // The verifier too: a psql error can quote the statement that carries it.
      const verifier = scramVerifier(fromSecret);
      step.secrets.add(fromSecret);
      step.secrets.add(verifier);
      return { role, verifier, from: `Secret ${s!.name}`, password: fromSecret };
    }
    const database = b.manifest.databases.find((d) => d.kind === 'service' && d.owner === role.name)?.name;
    const makeSecret = useCluster && s?.service && role.password && database ? { service: s.service, database } : undefined;
    return {
      role,
      verifier: role.verifier ?? undefined,
      from: 'the backup',
      ...(role.password ? { password: role.password } : {}),
      ...(makeSecret ? { makeSecret } : {}),
    };
  });
}

async function restoreStack(step: StepCtx, b: StackBackup, ask: (q: string) => Promise<boolean>, interactive: () => boolean): Promise<void> {
  const target = await resolveTarget(step);
  const live = await queryJson<{ database: string; databases: string[]; roles: string[] }>(step, target, TARGET_SQL);
  const mainDb = live.database;
  const shownDir = shownPath(b.dir);

  // 1. Refuse (or ask) before anything changes: databases of the backup that hold tables in the target.
  const occupied: string[] = [];
  const held = new Set<string>();
  for (const d of b.manifest.databases) {
    const name = targetName(d, mainDb);
    if (!live.databases.includes(name)) continue;
    const n = await countTables(step, target, d.kind === 'main' ? undefined : name);
    if (n > 0) {
      occupied.push(`${name} (${n} tables)`);
      held.add(name);
    }
  }
  if (occupied.length) {
    const what = `${occupied.join(', ')} at ${target.server}`;
    const o = step.config.options;
    if (!o.on(FORCE_FLAG))
      throw new UsageError(`refusing to overwrite ${what}, which hold tables`, {
        fix: `add --force to replace their contents with the backup (a freshly deployed stack holds the seeded tables: --force is expected there)`,
      });
    if (!o.on(YES_FLAG)) {
      if (!interactive()) throw new UsageError(`refusing to overwrite ${what} without confirmation: no terminal to ask`, { fix: 'add --yes' });
      if (!(await ask(`Overwrite ${what}, and set the logins ${b.manifest.roles.join(', ')}, from ${shownDir}?`)))
        throw new UsageError('not confirmed; nothing was restored');
    }
  }

  // 2. The logins, in one transaction: created or altered to match the backup, with the password the rule picks.
  const plans = await planRoles(step, b);
  await runSql(
    step,
    target,
    plans.map((p) => roleSql(p.role, p.verifier, live.roles.includes(p.role.name))),
    { transaction: true },
  );
  for (const p of plans) {
    step.change(`role ${p.role.name}`, live.roles.includes(p.role.name) ? 'configured' : 'created');
    step.log.info(`role ${p.role.name}: password from ${p.from}`);
  }

  // 3. The services' databases, owned by their logins and closed to PUBLIC, as deploy-postgres makes them.
  const services = b.manifest.databases.filter((d) => d.kind === 'service');
  await runSql(
    step,
    target,
    services.flatMap((d) => databaseSql(d, live.databases.includes(d.name))),
    { transaction: false },
  );

  // 4. Each database in its own transaction: all of it or none of it.
  const done: string[] = [];
  for (const d of b.manifest.databases) {
    const name = targetName(d, mainDb);
    const dump = b.dumps.get(d.name)!;
    step.log.info(`restoring ${d.file} (${dump.info.tables} tables) into ${name}, in one transaction`);
    const c = toolCommand(step, 'restore', target, dump.file, d.kind === 'main' ? undefined : name);
    try {
      if (target.kind === 'url') await step.exec(c.cmd, c.args, { env: pgEnv(target.url), timeoutMs: timeoutOf(step), quiet: false });
      else await step.kube.run(c.args, { input: dump.text, timeoutMs: timeoutOf(step), quiet: false });
    } catch (err) {
      const e = explainToolError(err, 'psql', target) as KitError;
      throw new StepError(
        `${e.message} (database ${name}: its transaction was rolled back, it is unchanged; ${done.length ? `restored before it: ${done.join(', ')}` : 'no database was restored before it'}; the logins were set)`,
        { fix: e.fix ?? `fix the cause and run the same restore again with --force: it replaces again what was restored`, docs: e.docs, cause: err },
      );
    }
    done.push(name);
    step.change(`database ${name}`, held.has(name) ? 'overwritten' : 'restored');
  }

  // 5. Service Secrets the target lacks, from the passwords the backup took from the source's.
  const toMake = plans.filter((p) => p.makeSecret);
  if (toMake.length) {
    const ns = step.config.namespace;
    const sts = await step.kube.getOptional('statefulset', PG_NAME);
    const sslmode = sts !== undefined && statefulSetServesTls(sts) ? 'require' : 'prefer';
    const manifests: Manifest[] = toMake.map((p) =>
      renderServiceSecret(ns, serviceDatabase(p.makeSecret!.service, p.makeSecret!.database), p.password!, {
        host: pgServiceHost(ns),
        port: 5432,
        sslmode,
      }),
    );
    await applyRecorded(step, manifests);
  }
  for (const p of plans.filter((x) => !x.password && secretOf(x.role)))
    step.log.warn(
      `${p.role.name}: no Secret ${secretOf(p.role)!.name} in namespace ${step.config.namespace} and no password in the backup: it keeps the backup's password, which no Secret holds (${p.role.name === 'dapr_state' ? './scripts/install-dapr.mts' : './scripts/deploy-postgres.mts'} sets a new one)`,
    );

  // 6. Checks: every database holds its tables; every login has the password it should and may connect.
  for (const d of b.manifest.databases) {
    const name = targetName(d, mainDb);
    const n = await countTables(step, target, d.kind === 'main' ? undefined : name);
    step.check(`database ${name}`, n >= d.tables, `${d.tables} tables in the backup; ${name} now holds ${n}`);
  }
  const logins = await queryJson<{ name: string; verifier: string | null; connect: boolean }[]>(
    step,
    target,
    `SELECT coalesce(json_agg(json_build_object('name', a.rolname, 'verifier', a.rolpassword, 'connect', has_database_privilege(a.rolname, d.db, 'CONNECT'))), '[]')::text AS json
     FROM pg_authid a JOIN (VALUES ${plans.map((p) => `(${literal(p.role.name)}, ${literal(loginDatabase(b, p.role.name, mainDb))})`).join(', ') || "('', '')"}) AS d(role, db) ON d.role = a.rolname`,
  );
  for (const p of plans) {
    const l = logins.find((x) => x.name === p.role.name);
    const db = loginDatabase(b, p.role.name, mainDb);
    const ok = !!l && (p.password ? verifierMatches(l.verifier, p.password) : l.verifier === (p.verifier ?? null)) && l.connect;
    step.check(
      `login ${p.role.name}`,
      ok,
      ok
        ? `may connect to ${db}; password from ${p.from}${p.makeSecret ? ` (Secret ${p.makeSecret.service}-db made from it)` : ''}`
        : !l
          ? 'the role is missing after the restore'
          : !l.connect
            ? `cannot connect to ${db}`
            : `its password is not the one from ${p.from}`,
    );
  }

  // 7. The topics: the backup's catalogue, for the next deploy-kafka (restore-postgres does not touch Kafka).
  if (b.manifest.topics) {
    const current = flagPath(step.config, TOPICS_FLAG, step.root, DEFAULT_CATALOGUE)!;
    const theirs = readFileSync(path.join(b.dir, b.manifest.topics.file), 'utf8');
    const same = existsSync(current) && readFileSync(current, 'utf8') === theirs;
    if (same) step.log.ok(`topics: the backup's ${b.manifest.topics.topics.length} topics are ${shownPath(current)}'s: deploy-kafka reconciles the same ones`);
    else
      step.log.warn(
        `topics: the backup's catalogue (${b.manifest.topics.topics.length} topics) differs from ${shownPath(current)}: ./scripts/deploy-kafka.mts --namespace ${step.config.namespace} --topics ${shownPath(path.join(b.dir, b.manifest.topics.file))} reconciles the backup's`,
      );
  }
}

/** The database a login is checked against: its own service database, else the main one (dapr_state's schema). */
function loginDatabase(b: StackBackup, role: string, mainDb: string): string {
  return b.manifest.databases.find((d) => d.kind === 'service' && d.owner === role)?.name ?? mainDb;
}

type RestoreInput = { kind: 'stack'; dir: string } | { kind: 'file'; file: string };

/** The backup to restore, as given (--input, relative to where the user stands): a folder, its manifest, or an old file. */
function restoreInput(config: KitConfig): RestoreInput {
  const input = config.options.get(INPUT_FLAG);
  if (input === undefined) throw new UsageError('say which backup to restore: --input DIR', { fix: `ls ${DEFAULT_BACKUP_DIR}/` });
  const file = path.resolve(process.cwd(), String(input));
  const shown = shownPath(file);
  if (!existsSync(file)) throw new UsageError(`--input ${shown} does not exist`, { fix: `ls ${DEFAULT_BACKUP_DIR}/` });
  if (statSync(file).isDirectory()) {
    if (!existsSync(path.join(file, MANIFEST)))
      throw new UsageError(`--input ${shown} is a folder without ${MANIFEST}: not a backup made by backup-postgres.mts`, { fix: `ls ${shown}/` });
    return { kind: 'stack', dir: file };
  }
  if (path.basename(file) === MANIFEST) return { kind: 'stack', dir: path.dirname(file) };
  return { kind: 'file', file };
}

export function restoreScript(ask: (q: string) => Promise<boolean> = confirm, interactive: () => boolean = () => Boolean(process.stdin.isTTY)): ScriptDef {
  return {
    name: 'restore-postgres',
    summary: [
      "Restores a backup folder made by backup-postgres.mts into the stack: first the logins (dapr_state, the services'),",
      "each with the password of its Secret in the namespace when there is one, else the backup's (and a missing service",
      'Secret is made from it); then each database in its own transaction (all or nothing per database): every object in',
      'the backup is replaced, objects created after the backup are left alone.',
      'Refuses to overwrite databases that hold tables unless --force, and then asks first; without a terminal it needs --yes.',
      'By default psql runs inside the PostgreSQL pod (kubectl exec); with --pg-url URL (a superuser) the local psql is used.',
      'A single .sql file from an older kit restores the learnflow database only.',
    ].join('\n'),
    flags: RESTORE_FLAGS,
    // It sets the logins and may make the services' Secrets; with --no-cluster only the server at --pg-url changes.
    changesCluster: () => ({ what: 'overwrite its databases and set its logins' }),
    checkUsage: (config) => {
      if (config.noCluster && !config.pgUrl) throw new UsageError('--no-cluster needs --pg-url: without it the restore runs in the pod');
      const input = restoreInput(config);
      if (input.kind === 'stack') readStackBackup(input.dir);
      else readBackup(input.file);
    },
    footer:
      'Exit codes: 0 restored, 1 psql failed or the database is unreachable (the database being restored is unchanged), 2 bad usage or not confirmed, 3 environment not ready.\nTroubleshooting: docs/troubleshooting.md#postgres-unreachable; guide: docs/operations.md#backup-and-restore',
    async run(ctx): Promise<RunResult> {
      const input = restoreInput(ctx.config);
      const where = ctx.config.pgUrl ? describePgUrl(ctx.config.pgUrl) : `the PostgreSQL pod in ${ctx.config.namespace}`;
      if (input.kind === 'file') {
        const file = input.file;
        if (ctx.config.dryRun) {
          const { info } = readBackup(file);
          ctx.log.info('dry run: nothing was contacted');
          return {
            steps: [],
            budgetMs: null,
            output: [
              `# would restore ${shownPath(file)} (${info.tables} tables) into ${where}, refusing a database that holds tables without --force (and asking first)`,
              `# would run: ${showCommand(ctx, toolCommand(ctx, 'restore', plannedTarget(ctx), file))}`,
            ].join('\n'),
          };
        }
        const step = await runStep(ctx, { name: 'restore-postgres', budgetMs: null, run: (s) => restore(s, file, ask, interactive) });
        return { steps: [step], budgetMs: null };
      }
      const b = readStackBackup(input.dir);
      if (ctx.config.dryRun) {
        ctx.log.info('dry run: nothing was contacted');
        const target = plannedTarget(ctx);
        const m = b.manifest;
        return {
          steps: [],
          budgetMs: null,
          output: [
            `# would restore ${shownPath(b.dir)} (namespace ${m.namespace}, ${m.createdAt}, PostgreSQL ${m.serverVersion}) into ${where}, refusing databases that hold tables without --force (and asking first)`,
            `# would create or alter, in one transaction, the logins ${m.roles.join(', ') || '(none)'}: each with the password of its Secret in namespace ${ctx.config.namespace}${ctx.config.noCluster ? ' (--no-cluster: none is read)' : ''}, else the backup's`,
            ...(m.databases.some((d) => d.kind === 'service')
              ? [
                  `# would create the missing service databases (${m.databases
                    .filter((d) => d.kind === 'service')
                    .map((d) => `${d.name} owned by ${d.owner}`)
                    .join(', ')}), closed to PUBLIC`,
                ]
              : []),
            ...m.databases.map(
              (d) => `# would run: ${showCommand(ctx, toolCommand(ctx, 'restore', target, b.dumps.get(d.name)!.file, d.kind === 'main' ? undefined : d.name))}`,
            ),
            ...(ctx.config.noCluster ? [] : ["# would make each missing service Secret from the backup's password"]),
          ].join('\n'),
          data: { databases: m.databases.map((d) => ({ name: d.name, tables: d.tables })), roles: m.roles },
        };
      }
      const step = await runStep(ctx, { name: 'restore-postgres', budgetMs: null, run: (s) => restoreStack(s, b, ask, interactive) });
      return { steps: [step], budgetMs: null };
    },
  };
}
