// backup-postgres.mts and restore-postgres.mts: the stack's PostgreSQL to a local folder and back (format:
// backup/format.ts). A backup holds every database the kit manages, the logins it made (dapr_state, the services':
// verifiers and, when the cluster is read, their Secrets' passwords) and the topic catalogue; not the superusers
// (learnflow_user, postgres): the target has its own.
// By default pg_dump/psql run in the pod through `kubectl exec`: no local client tools, always the server's major
// version, the password stays in the pod. With --pg-url the local tools run, the password in PGPASSWORD (never argv);
// Secrets are still read (and on restore made) unless --no-cluster.
// Each database is plain SQL with --clean --if-exists, restored in one transaction: every object in it is replaced,
// objects made after the backup stay. An older kit's single .sql file restores as the learnflow database alone.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flagPath, NO_CLUSTER_FLAG, PG_URL_FLAG, shownPath, YES_FLAG, type KitConfig } from '../core/config.js';
import type { Ctx, StepCtx } from '../run/context.js';
import { CommandError, EnvironmentError, errorMessage, KitError, StepError, UsageError } from '../core/errors.js';
import { formatCommand } from '../core/exec.js';
import { booleanFlag, flag, type FlagSpec } from '../core/flags.js';
import { ensureClusterReachable } from '../preflight/checks.js';
import { confirm } from '../core/prompt.js';
import { connectPg, describePgUrl, inTransaction } from '../components/shared/postgres-client.js';
import { AS_SUPERUSER, execInPod, podDatabase, podExecArgs, queryJsonInPod } from '../components/shared/postgres-pod.js';
import { scramVerifier, verifierMatches } from '../components/shared/postgres-scram.js';
import { literal } from '../components/shared/postgres-roles.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { applyRecorded, runStep } from '../run/steps.js';
import { readSecrets } from '../kube/secrets.js';
import { DB_NAME } from '../components/shared/postgres-credentials.js';
import { statefulSetServesTls } from '../components/shared/postgres-tls.js';
import { pgServiceHost, PG_NAME, POSTGRES_SELECTOR } from '../components/shared/postgres-topology.js';
import { renderServiceSecret, serviceDatabase } from '../components/postgres/service-databases.js';
import { DEFAULT_CATALOGUE, loadCatalogue, TOPICS_FLAG, type Catalogue } from '../components/kafka/catalogue.js';
import { podReady } from '../kube/pod-diagnosis.js';
import { kitPackage } from '../core/repo.js';
import { formatSize } from '../core/report.js';
import {
  BACKUP_FORMAT,
  COUNT_TABLES_SQL,
  databaseSql,
  DUMP_HEADER,
  inspectDump,
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

const DEFAULT_BACKUP_DIR = '.learnflow/backups';
const DUMP_OPTIONS = ['--clean', '--if-exists', '--no-password'];
const RESTORE_OPTIONS = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction'];

const TIMEOUT_FLAG = flag({
  name: 'timeout',
  kind: 'duration',
  valueName: 'DURATION',
  default: 10 * 60_000,
  description: 'give up on pg_dump / psql after this long',
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

const BACKUP_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  flag({
    ...NO_CLUSTER_FLAG,
    description: "with --pg-url: read no Secret (the backup then holds the logins' verifiers but not the passwords of their Secrets)",
  }),
  OUTPUT_FLAG,
  { ...TOPICS_FLAG, description: 'the topic catalogue the stack was deployed with, recorded in the backup' },
  TIMEOUT_FLAG,
];

const RESTORE_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  flag({ ...NO_CLUSTER_FLAG, description: "with --pg-url: read and make no Secret (each login gets the backup's password)" }),
  INPUT_FLAG,
  FORCE_FLAG,
  { ...YES_FLAG, description: 'do not ask before overwriting (needed without a terminal)' },
  { ...TOPICS_FLAG, description: "the topic catalogue to compare with the backup's (a difference is reported with the command that applies the backup's)" },
  TIMEOUT_FLAG,
];

/** Where pg_dump and psql run: in the pod through kubectl exec (the default), or locally against --pg-url. */
type Where = { pod: string; url?: undefined } | { url: string; pod?: undefined };
/** A Where found in the cluster, and how messages name it. */
type Target = Where & { describe: string; server: string };
/** What a dry-run names instead of the pod: it looks nothing up. */
const PLANNED_POD = `<ready pod -l ${POSTGRES_SELECTOR}>`;

export function timestampName(now: number): string {
  return `learnflow-${new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
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

/** A Ready PostgreSQL pod in the namespace. */
async function findPod(ctx: Ctx): Promise<string> {
  const ns = ctx.config.namespace;
  const pods = await ctx.kube.list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }>('pod', {
    selector: POSTGRES_SELECTOR,
  });
  const ready = pods.find(podReady);
  if (ready) return ready.metadata.name;
  const names = pods.map((p) => p.metadata.name);
  throw new StepError(names.length ? `no PostgreSQL pod is ready in namespace ${ns} (${names.join(', ')})` : `no PostgreSQL pod in namespace ${ns}`, {
    fix: names.length ? `kubectl describe pod ${names[0]} -n ${ns}` : `deploy it (./scripts/deploy-postgres.mts), or pick the namespace with --namespace`,
    docs: 'postgres-unreachable',
  });
}

async function resolveTarget(ctx: Ctx): Promise<Target> {
  // Without --pg-url everything goes through the cluster: an unreachable one is exit 3 with the fix, not raw kubectl.
  // With it, the cluster is only where the Secrets are: say how to do without it.
  if (!ctx.config.noCluster) {
    try {
      await ensureClusterReachable(ctx);
    } catch (err) {
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
    return { url: ctx.config.pgUrl, describe: where, server: where.replace(/\/.*$/, '') };
  }
  const pod = await findPod(ctx);
  const where = `pod ${pod} (namespace ${ctx.config.namespace}${ctx.config.context ? `, context ${ctx.config.context}` : ''})`;
  return { pod, describe: `database ${DB_NAME} in ${where}`, server: where };
}

/**
 * The one command a dump or a restore of one database runs, as data: the run executes it and --dry-run prints it,
 * so the two cannot differ. `file`: where pg_dump writes, or what psql reads. `db`: another database than the main
 * one (--pg-url's, or the pod's POSTGRES_DB).
 */
function toolCommand(ctx: Ctx, what: 'dump' | 'restore', where: Where, file: string, db?: string): { cmd: string; args: string[]; stdin?: string } {
  if (where.url !== undefined) {
    const { dbname } = splitPgUrl(withDatabase(where.url, db));
    return what === 'dump'
      ? { cmd: 'pg_dump', args: ['--dbname', dbname, ...DUMP_OPTIONS, '--file', file] }
      : { cmd: 'psql', args: [...RESTORE_OPTIONS, '--dbname', dbname, '--file', file] };
  }
  const ns = ctx.config.namespace;
  return what === 'dump'
    ? { cmd: 'kubectl', args: podExecArgs(ns, where.pod, `${AS_SUPERUSER}exec pg_dump ${podDatabase(db)} ${DUMP_OPTIONS.join(' ')}`, false) }
    : { cmd: 'kubectl', args: podExecArgs(ns, where.pod, `${AS_SUPERUSER}exec psql ${RESTORE_OPTIONS.join(' ')} ${podDatabase(db)} -f -`, true), stdin: file };
}

/** As a person would paste it: kubectl with the run's --context, the password variable named, never its value. */
function showCommand(ctx: Ctx, c: ReturnType<typeof toolCommand>): string {
  const args = c.cmd === 'kubectl' && ctx.config.context ? ['--context', ctx.config.context, ...c.args] : c.args;
  const env = c.cmd === 'kubectl' ? '' : 'PGPASSWORD=<from --pg-url> ';
  return `${env}${formatCommand(c.cmd, args)}${c.stdin ? ` < ${shownPath(c.stdin)}` : ''}`;
}

/** pg_dump of `db` into `file` (mode 600), or psql of `file` into `db` in one transaction: the command toolCommand gives. */
async function runTool(step: StepCtx, t: Target, what: 'dump' | 'restore', file: string, db?: string): Promise<void> {
  const c = toolCommand(step, what, t, file, db);
  const opts = { timeoutMs: step.config.options.get(TIMEOUT_FLAG), quiet: false };
  try {
    if (t.url !== undefined) {
      if (what === 'dump') writeFileSync(file, '', { mode: 0o600 });
      const { password } = splitPgUrl(t.url);
      await step.exec(c.cmd, c.args, { ...opts, env: { ...(password ? { PGPASSWORD: password } : {}), PGCONNECT_TIMEOUT: '10' } });
    } else {
      const r = await step.kube.run(c.args, { ...opts, input: c.stdin && readFileSync(c.stdin, 'utf8') });
      if (what === 'dump') writeFileSync(file, r.stdout, { mode: 0o600 });
    }
  } catch (err) {
    throw explain(err, t, what === 'dump' ? 'pg_dump' : 'psql');
  }
}

/** One query on the main database (or `db`) that returns one JSON text, parsed. */
async function queryJson<T>(step: StepCtx, t: Target, sql: string, db?: string): Promise<T> {
  try {
    if (t.pod !== undefined) return await queryJsonInPod<T>(step, t.pod, sql, db);
    const client = await connectPg(withDatabase(t.url, db));
    try {
      return JSON.parse((await client.query<{ json: string }>(sql)).rows[0]!.json) as T;
    } finally {
      await client.end().catch(() => {});
    }
  } catch (err) {
    throw explain(err, t, 'psql');
  }
}

/** Statements on the main database: in one transaction, or each on its own (CREATE DATABASE cannot be in one). */
async function runSql(step: StepCtx, t: Target, statements: string[], transaction: boolean): Promise<void> {
  if (!statements.length) return;
  try {
    if (t.pod !== undefined) {
      const script = `${AS_SUPERUSER}exec psql -X -q -v ON_ERROR_STOP=1${transaction ? ' --single-transaction' : ''} ${podDatabase()} -f -`;
      await execInPod(step, t.pod, script, { input: statements.map((s) => (s.endsWith(';') ? s : `${s};`)).join('\n') + '\n', quiet: false });
      return;
    }
    const client = await connectPg(t.url);
    try {
      const all = async () => {
        for (const s of statements) await client.query(s);
      };
      await (transaction ? inTransaction(client, all) : all());
    } finally {
      await client.end().catch(() => {});
    }
  } catch (err) {
    throw explain(err, t, 'psql');
  }
}

async function countTables(step: StepCtx, t: Target, db?: string): Promise<number> {
  return Number(await queryJson<number>(step, t, `SELECT (${COUNT_TABLES_SQL})::text AS json`, db));
}

/** A failure of pg_dump, psql or a query, said so that a user can act on it. */
function explain(err: unknown, t: Target, tool: 'pg_dump' | 'psql'): unknown {
  if (err instanceof EnvironmentError && t.url !== undefined)
    return new EnvironmentError(`${tool} is not installed or not on PATH (needed with --pg-url)`, {
      fix: `install the PostgreSQL client tools of the server's major version (Debian/Ubuntu: apt install postgresql-client; macOS: brew install libpq), or drop --pg-url: the kit then runs ${tool} inside the PostgreSQL pod`,
      docs: 'missing-tools',
    });
  const text = err instanceof CommandError ? err.stderrTail : errorMessage(err);
  const line = text.trim().split('\n').filter(Boolean).pop() ?? '';
  const failed = (message: string, fix?: string, docs?: string) => new StepError(message, { fix, docs, cause: err });
  // A permission error on pg_authid: the backup reads the logins' verifiers, which only a superuser may.
  if ((err as { code?: unknown }).code === '42501' || /permission denied/i.test(text))
    return failed(
      `PostgreSQL at ${t.describe} refused: ${line}`,
      'connect as a superuser (the kit deploys learnflow_user as one; its password is in the Secret postgresql-credentials): backups read the logins and every database',
    );
  if (err instanceof KitError && !(err instanceof CommandError)) return err;
  if (!(err instanceof CommandError)) return err instanceof Error ? failed(`PostgreSQL at ${t.describe}: ${err.message}`) : err;
  if (/server version mismatch/i.test(text))
    return failed(
      `the local pg_dump is older than the server at ${t.describe}: ${line}`,
      "drop --pg-url (the kit then runs pg_dump inside the pod, which always matches the server), or put a pg_dump of the server's major version first on PATH",
      'postgres-unreachable',
    );
  if (
    /connection to server|could not connect|Connection refused|timeout expired|could not translate host name|password authentication failed|no password supplied/i.test(
      text,
    )
  )
    return failed(
      `${tool} could not connect to ${t.describe}: ${line}`,
      t.url !== undefined ? 'check host, port, user and password in --pg-url' : `kubectl logs ${t.pod} -n <namespace>; is the pod running?`,
      'postgres-unreachable',
    );
  if (/invalid command \\restrict/i.test(text))
    return failed(
      `this psql is too old for the backup (it has \\restrict lines, written by pg_dump 17.6 / 16.10 / 15.14 and later)`,
      'restore without --pg-url (psql inside the pod), or use a psql at least as new as the pg_dump that made the backup',
    );
  return failed(`${tool} failed on ${t.describe}: ${line || err.message}`);
}

/** Written next to the target and renamed once complete: a failed backup never leaves half a backup behind. */
function partialOf(out: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.partial`);
}

/** Each role's password from its Secret in the namespace (none with --no-cluster), registered as a secret. */
async function secretPasswords(ctx: Ctx, roles: readonly BackupRole[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ctx.config.noCluster) return out;
  const found = await readSecrets(
    ctx,
    roles.flatMap((r) => secretOf(r)?.name ?? []),
  );
  for (const r of roles) {
    const s = secretOf(r);
    const value = s && found.get(s.name)?.get(s.key);
    const password = value ? s.password(value) : undefined;
    if (password) out.set(r.name, password);
    ctx.secrets.add(password);
  }
  return out;
}

async function backup(step: StepCtx, out: string, topicsFile: string, catalogue: Catalogue): Promise<BackupManifest> {
  const t = await resolveTarget(step);
  step.log.info(`backing up PostgreSQL at ${t.server}: the kit's databases and logins, to ${shownPath(out)}`);
  const inv = await queryJson<Inventory>(step, t, INVENTORY_SQL);
  for (const r of inv.roles) step.secrets.add(r.verifier ?? undefined);
  const passwords = await secretPasswords(step, inv.roles);
  const partial = partialOf(out);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(path.join(partial, 'db'), { recursive: true, mode: 0o700 });
  try {
    const databases: BackupDatabase[] = [];
    for (const d of [{ name: inv.database, owner: inv.owner, kind: 'main' as const }, ...inv.databases.map((x) => ({ ...x, kind: 'service' as const }))]) {
      const file = `db/${d.name}.sql`;
      // No database argument for the main one: the pod's POSTGRES_DB, or --pg-url's database.
      await runTool(step, t, 'dump', path.join(partial, file), d.kind === 'main' ? undefined : d.name);
      const info = inspectDump(readFileSync(path.join(partial, file), 'utf8'));
      if (!info.complete)
        throw new StepError(`pg_dump of ${d.name} ended without its "dump complete" line: the backup is incomplete and was not kept`, {
          fix: 'run the backup again; raise --timeout for a large database',
        });
      databases.push({ ...d, file, tables: info.tables });
      step.log.info(`${d.name}: ${info.tables} tables`);
    }
    const roles: BackupRole[] = inv.roles.map((r) => (passwords.has(r.name) ? { ...r, password: passwords.get(r.name)! } : r));
    writeFileSync(path.join(partial, ROLES_FILE), JSON.stringify(roles, null, 2) + '\n', { mode: 0o600 });
    writeFileSync(path.join(partial, TOPICS_FILE), readFileSync(topicsFile, 'utf8'), { mode: 0o600 });
    // Each topic's settings (its description is for people reading the catalogue).
    const topics = catalogue.topics.map(({ description: _description, ...settings }) => settings);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      kitVersion: kitPackage(step.root).version,
      serverVersion: inv.server,
      createdAt: new Date(step.clock.now()).toISOString(),
      namespace: step.config.namespace,
      databases,
      roles: roles.map((r) => r.name),
      superusers: inv.superusers,
      schemas: inv.schemas.map((s) => ({ database: inv.database, ...s })),
      secretPasswords: !step.config.noCluster,
      topics: { file: TOPICS_FILE, source: shownPath(topicsFile), topics },
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
      `${databases.map((d) => `${d.name} (${d.tables} tables)`).join(', ')}; roles ${roles.map((r) => r.name).join(', ') || 'none'}; ${topics.length} topics; ${formatSize(size)} -> ${shownPath(out)} (mode 700: it holds your data and the services' passwords)`,
    );
    step.change(shownPath(out), 'written');
    return manifest;
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
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
      const given = ctx.config.options.get(OUTPUT_FLAG);
      const out = given !== undefined ? path.resolve(process.cwd(), given) : path.join(ctx.root, DEFAULT_BACKUP_DIR, timestampName(ctx.clock.now()));
      if (existsSync(out))
        throw new UsageError(`${shownPath(out)} already exists; a backup never overwrites anything`, {
          fix: 'pick another --output, or remove the old backup first',
        });
      const topicsFile = flagPath(ctx.config, TOPICS_FLAG, ctx.root, DEFAULT_CATALOGUE)!;
      const catalogue = loadCatalogue(ctx.root, topicsFile);
      if (ctx.config.dryRun) {
        const url = ctx.config.pgUrl;
        // The main database: --pg-url's, or the pod's.
        const mainFile = path.join(partialOf(out), `db/${url ? decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres' : DB_NAME}.sql`);
        const c = toolCommand(ctx, 'dump', url ? { url } : { pod: PLANNED_POD }, mainFile);
        ctx.log.info('dry run: nothing was contacted');
        return {
          steps: [],
          budgetMs: null,
          output: [
            `# would read the kit's databases and logins (dapr_state, the services' logins: their verifiers) from ${url ? describePgUrl(url) : `the PostgreSQL pod in ${ctx.config.namespace}`}`,
            ...(ctx.config.noCluster ? [] : [`# would read the logins' passwords from their Secrets in namespace ${ctx.config.namespace}`]),
            `# would run: ${showCommand(ctx, c)}${c.cmd === 'kubectl' ? ` > ${shownPath(mainFile)}` : ''}`,
            `# and the same for each service database DB (-d DB) into ${shownPath(path.join(partialOf(out), 'db'))}/DB.sql`,
            `# would record ${shownPath(topicsFile)} (${catalogue.topics.length} topics) as ${TOPICS_FILE}, and ${ROLES_FILE}, ${MANIFEST}`,
            `# then, once it is complete, rename ${shownPath(partialOf(out))} to: ${shownPath(out)}`,
          ].join('\n'),
        };
      }
      let manifest: BackupManifest | undefined;
      const step = await runStep(ctx, {
        name: 'backup-postgres',
        budgetMs: null,
        run: async (s) => {
          manifest = await backup(s, out, topicsFile, catalogue);
        },
      });
      return {
        steps: [step],
        budgetMs: null,
        ...(step.ok ? { artifacts: { backup: shownPath(out) } } : {}),
        ...(manifest && {
          data: {
            backup: shownPath(out),
            databases: manifest.databases.map((d) => ({ name: d.name, tables: d.tables })),
            roles: manifest.roles,
            topics: manifest.topics?.topics.length ?? 0,
          },
        }),
      };
    },
  };
}

/** A backup as restore reads it, everything checked before anything is contacted; an older kit's file is one database. */
interface Backup {
  /** The folder, or the single .sql file. */
  path: string;
  manifest?: BackupManifest;
  databases: (BackupDatabase & { path: string; clean: boolean })[];
  roles: BackupRole[];
}

function readJson<T>(file: string, fix: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new UsageError(`${shownPath(file)} is not readable JSON: ${errorMessage(err).split('\n')[0]}`, { fix });
  }
}

/** One database's pg_dump file in `dir`: plain SQL, complete. */
function readDump(d: Omit<BackupDatabase, 'tables'>, dir: string): Backup['databases'][number] {
  const file = path.join(dir, d.file);
  if (!existsSync(file))
    throw new UsageError(`${shownPath(dir)} lacks ${d.file} (database ${d.name}): refusing to restore part of a backup`, { fix: 'use another backup' });
  const text = readFileSync(file, 'utf8');
  const info = inspectDump(text);
  if (!text.slice(0, 2048).includes(DUMP_HEADER))
    throw new UsageError(`${shownPath(file)} is not a plain-SQL pg_dump backup (no "${DUMP_HEADER}" header)`, {
      fix: 'give a file written by ./scripts/backup-postgres.mts',
    });
  if (!info.complete)
    throw new UsageError(`${shownPath(file)} is not a complete pg_dump (database ${d.name}): refusing to restore half a backup`, {
      fix: 'use another backup',
    });
  return { ...d, path: file, tables: info.tables, clean: info.clean };
}

/** The backup --input names (relative to where the user stands): a folder, its manifest, or an older kit's file. */
function readBackup(config: KitConfig): Backup {
  const input = config.options.get(INPUT_FLAG);
  if (input === undefined) throw new UsageError('say which backup to restore: --input DIR', { fix: `ls ${DEFAULT_BACKUP_DIR}/` });
  let file = path.resolve(process.cwd(), input);
  if (!existsSync(file)) throw new UsageError(`--input ${shownPath(file)} does not exist`, { fix: `ls ${DEFAULT_BACKUP_DIR}/` });
  if (path.basename(file) === MANIFEST) file = path.dirname(file);
  if (!statSync(file).isDirectory())
    return { path: file, databases: [readDump({ name: DB_NAME, kind: 'main', owner: '', file: path.basename(file) }, path.dirname(file))], roles: [] };
  const shown = shownPath(file);
  if (!existsSync(path.join(file, MANIFEST)))
    throw new UsageError(`--input ${shown} is a folder without ${MANIFEST}: not a backup made by backup-postgres.mts`, { fix: `ls ${shown}/` });
  const manifest = readJson<BackupManifest>(path.join(file, MANIFEST), 'give a folder written by ./scripts/backup-postgres.mts');
  if (manifest?.format !== BACKUP_FORMAT)
    throw new UsageError(`${shown} is not a backup this kit reads (format ${JSON.stringify(manifest?.format)}, expected ${BACKUP_FORMAT})`, {
      fix: 'restore it with the kit version that made it (its manifest.json says which), or make a new backup',
    });
  if (!manifest.databases.some((d) => d.kind === 'main')) throw new UsageError(`${shown}: the manifest names no main database`, { fix: 'use another backup' });
  const databases = manifest.databases.map((d) => readDump(d, file));
  return { path: file, manifest, databases, roles: readJson<BackupRole[]>(path.join(file, ROLES_FILE), 'use another backup') };
}

/**
 * Each role's password in the target: its Secret's when there is one, as the target's apps (daprd too) already read
 * it, so nothing restarts and no Secret changes under a running app; else the backup's, and a missing service Secret
 * is made from it (`makeSecret`). `from` names the source, for the log; `password`: the login's, when known.
 */
async function planRoles(step: StepCtx, b: Backup) {
  const inTarget = await secretPasswords(step, b.roles);
  return b.roles.map((role) => {
    step.secrets.add(role.password);
    step.secrets.add(role.verifier ?? undefined);
    const s = secretOf(role);
    const fromSecret = inTarget.get(role.name);
    if (fromSecret) {
      // The verifier too: a psql error can quote the statement that carries it.
      const verifier = scramVerifier(fromSecret);
      step.secrets.add(verifier);
      return { role, verifier, from: `Secret ${s!.name}`, password: fromSecret };
    }
    const database = loginDatabase(b, role.name);
    const makeSecret = !step.config.noCluster && s?.service && role.password && database ? { service: s.service, database } : undefined;
    return { role, verifier: role.verifier ?? undefined, from: 'the backup', password: role.password, makeSecret };
  });
}

/** A login's own service database (undefined: it works in the main one, as dapr_state in its schema). */
function loginDatabase(b: Backup, role: string): string | undefined {
  return b.databases.find((d) => d.kind === 'service' && d.owner === role)?.name;
}

async function restore(step: StepCtx, b: Backup, ask: (q: string) => Promise<boolean>, interactive: () => boolean): Promise<void> {
  const t = await resolveTarget(step);
  if (!b.manifest)
    step.log.warn(
      `${shownPath(b.path)} is a single-file backup (an older kit's): it holds the learnflow database only, not the services' databases nor the logins`,
    );
  const live = await queryJson<{ database: string; databases: string[]; roles: string[] }>(step, t, TARGET_SQL);
  // The main database is the target's own (--pg-url's, or POSTGRES_DB), reached with no database argument.
  const nameOf = (d: BackupDatabase) => (d.kind === 'main' ? live.database : d.name);
  const dbArg = (d: BackupDatabase) => (d.kind === 'main' ? undefined : d.name);

  // 1. Refuse (or ask) before anything changes: databases of the backup that hold tables in the target.
  const held = new Map<string, number>();
  for (const d of b.databases) {
    const n = live.databases.includes(nameOf(d)) ? await countTables(step, t, dbArg(d)) : 0;
    if (n > 0) held.set(nameOf(d), n);
  }
  if (held.size) {
    const what = `${[...held].map(([name, n]) => `${name} (${n} tables)`).join(', ')} at ${t.server}`;
    const o = step.config.options;
    if (!o.on(FORCE_FLAG))
      throw new UsageError(`refusing to overwrite ${what}, which hold tables`, {
        fix: `add --force to replace their contents with the backup (a freshly deployed stack holds the seeded tables: --force is expected there)`,
      });
    const unclean = b.databases.find((d) => held.has(nameOf(d)) && !d.clean);
    if (unclean)
      throw new UsageError(`${shownPath(unclean.path)} was made without --clean, so it cannot replace existing tables`, {
        fix: 'restore it into an empty database, or use a backup from ./scripts/backup-postgres.mts',
      });
    if (!o.on(YES_FLAG)) {
      if (!interactive()) throw new UsageError(`refusing to overwrite ${what} without confirmation: no terminal to ask`, { fix: 'add --yes' });
      const logins = b.roles.length ? `, and set the logins ${b.roles.map((r) => r.name).join(', ')},` : '';
      if (!(await ask(`Overwrite ${what}${logins} from ${shownPath(b.path)}?`))) throw new UsageError('not confirmed; nothing was restored');
    }
  }

  // 2. The logins, in one transaction: created or altered to match the backup, with the password the rule picks.
  const plans = await planRoles(step, b);
  await runSql(
    step,
    t,
    plans.map((p) => roleSql(p.role, p.verifier, live.roles.includes(p.role.name))),
    true,
  );
  for (const p of plans) {
    step.change(`role ${p.role.name}`, live.roles.includes(p.role.name) ? 'configured' : 'created');
    step.log.info(`role ${p.role.name}: password from ${p.from}`);
  }

  // 3. The services' databases, owned by their logins and closed to PUBLIC, as deploy-postgres makes them.
  const services = b.databases.filter((d) => d.kind === 'service');
  await runSql(
    step,
    t,
    services.flatMap((d) => databaseSql(d, live.databases.includes(d.name))),
    false,
  );

  // 4. Each database in its own transaction: all of it or none of it.
  const done: string[] = [];
  for (const d of b.databases) {
    step.log.info(`restoring ${shownPath(d.path)} (${d.tables} tables) into ${nameOf(d)}, in one transaction`);
    try {
      await runTool(step, t, 'restore', d.path, dbArg(d));
    } catch (err) {
      const e = err as KitError;
      const before = done.length ? `restored before it: ${done.join(', ')}` : 'no database was restored before it';
      throw new StepError(
        `${e.message} (database ${nameOf(d)}: its transaction was rolled back, it is unchanged; ${before}${plans.length ? '; the logins were set' : ''})`,
        {
          fix: e.fix ?? `fix the cause and run the same restore again with --force: it replaces again what was restored`,
          docs: e.docs,
          cause: err,
        },
      );
    }
    done.push(nameOf(d));
    step.change(`database ${nameOf(d)}`, held.has(nameOf(d)) ? 'overwritten' : 'restored');
  }

  // 5. Service Secrets the target lacks, from the passwords the backup took from the source's.
  const toMake = plans.filter((p) => p.makeSecret);
  if (toMake.length) {
    const ns = step.config.namespace;
    const sts = await step.kube.getOptional('statefulset', PG_NAME);
    const at = { host: pgServiceHost(ns), port: 5432, sslmode: sts !== undefined && statefulSetServesTls(sts) ? ('require' as const) : ('prefer' as const) };
    await applyRecorded(
      step,
      toMake.map((p) => renderServiceSecret(ns, serviceDatabase(p.makeSecret!.service, p.makeSecret!.database), p.password!, at)),
    );
  }
  for (const p of plans.filter((x) => !x.password && secretOf(x.role)))
    step.log.warn(
      `${p.role.name}: no Secret ${secretOf(p.role)!.name} in namespace ${step.config.namespace} and no password in the backup: it keeps the backup's password, which no Secret holds (${p.role.name === 'dapr_state' ? './scripts/install-dapr.mts' : './scripts/deploy-postgres.mts'} sets a new one)`,
    );

  // 6. Checks: every database holds its tables; every login has the password it should and may connect.
  for (const d of b.databases) {
    const n = await countTables(step, t, dbArg(d));
    step.check(`database ${nameOf(d)}`, n >= d.tables, `${d.tables} tables in the backup; ${nameOf(d)} now holds ${n}`);
  }
  if (plans.length) {
    const dbOf = (role: string) => loginDatabase(b, role) ?? live.database;
    const logins = await queryJson<{ name: string; verifier: string | null; connect: boolean }[]>(
      step,
      t,
      `SELECT coalesce(json_agg(json_build_object('name', a.rolname, 'verifier', a.rolpassword, 'connect', has_database_privilege(a.rolname, d.db, 'CONNECT'))), '[]')::text AS json
       FROM pg_authid a JOIN (VALUES ${plans.map((p) => `(${literal(p.role.name)}, ${literal(dbOf(p.role.name))})`).join(', ')}) AS d(role, db) ON d.role = a.rolname`,
    );
    for (const p of plans) {
      const l = logins.find((x) => x.name === p.role.name);
      const ok = !!l && (p.password ? verifierMatches(l.verifier, p.password) : l.verifier === (p.verifier ?? null)) && l.connect;
      const made = p.makeSecret ? ` (Secret ${p.makeSecret.service}-db made from it)` : '';
      step.check(
        `login ${p.role.name}`,
        ok,
        ok
          ? `may connect to ${dbOf(p.role.name)}; password from ${p.from}${made}`
          : !l
            ? 'the role is missing after the restore'
            : !l.connect
              ? `cannot connect to ${dbOf(p.role.name)}`
              : `its password is not the one from ${p.from}`,
      );
    }
  }

  // 7. The topics: the backup's catalogue, for the next deploy-kafka (restore-postgres does not touch Kafka).
  const topics = b.manifest?.topics;
  if (topics) {
    const current = flagPath(step.config, TOPICS_FLAG, step.root, DEFAULT_CATALOGUE)!;
    const theirs = path.join(b.path, topics.file);
    if (existsSync(current) && readFileSync(current, 'utf8') === readFileSync(theirs, 'utf8'))
      step.log.ok(`topics: the backup's ${topics.topics.length} topics are ${shownPath(current)}'s: deploy-kafka reconciles the same ones`);
    else
      step.log.warn(
        `topics: the backup's catalogue (${topics.topics.length} topics) differs from ${shownPath(current)}: ./scripts/deploy-kafka.mts --namespace ${step.config.namespace} --topics ${shownPath(theirs)} reconciles the backup's`,
      );
  }
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
      readBackup(config);
    },
    footer:
      'Exit codes: 0 restored, 1 psql failed or the database is unreachable (the database being restored is unchanged), 2 bad usage or not confirmed, 3 environment not ready.\nTroubleshooting: docs/troubleshooting.md#postgres-unreachable; guide: docs/operations.md#backup-and-restore',
    async run(ctx): Promise<RunResult> {
      const b = readBackup(ctx.config);
      if (!ctx.config.dryRun) {
        const step = await runStep(ctx, { name: 'restore-postgres', budgetMs: null, run: (s) => restore(s, b, ask, interactive) });
        return { steps: [step], budgetMs: null };
      }
      const url = ctx.config.pgUrl;
      const m = b.manifest;
      const services = b.databases.filter((d) => d.kind === 'service');
      ctx.log.info('dry run: nothing was contacted');
      return {
        steps: [],
        budgetMs: null,
        output: [
          `# would restore ${shownPath(b.path)} (${m ? `namespace ${m.namespace}, ${m.createdAt}, PostgreSQL ${m.serverVersion}` : `${b.databases[0]!.tables} tables`}) into ${url ? describePgUrl(url) : `the PostgreSQL pod in ${ctx.config.namespace}`}, refusing databases that hold tables without --force (and asking first)`,
          ...(m
            ? [
                `# would create or alter, in one transaction, the logins ${m.roles.join(', ') || '(none)'}: each with the password of its Secret in namespace ${ctx.config.namespace}${ctx.config.noCluster ? ' (--no-cluster: none is read)' : ''}, else the backup's`,
              ]
            : []),
          ...(services.length
            ? [`# would create the missing service databases (${services.map((d) => `${d.name} owned by ${d.owner}`).join(', ')}), closed to PUBLIC`]
            : []),
          ...b.databases.map(
            (d) =>
              `# would run: ${showCommand(ctx, toolCommand(ctx, 'restore', url ? { url } : { pod: PLANNED_POD }, d.path, d.kind === 'main' ? undefined : d.name))}`,
          ),
          ...(ctx.config.noCluster || !m ? [] : ["# would make each missing service Secret from the backup's password"]),
        ].join('\n'),
        data: { databases: b.databases.map((d) => ({ name: d.name, tables: d.tables })), roles: b.roles.map((r) => r.name) },
      };
    },
  };
}
