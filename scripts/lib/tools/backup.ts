// scripts/backup-postgres.mts and scripts/restore-postgres.mts: pg_dump to a local file and back.
//
// Two ways to reach the database:
// - by default, `kubectl exec` into the PostgreSQL pod and run pg_dump / psql THERE: no local client tools,
//   and always the server's own major version. The password stays in the pod (the container's POSTGRES_PASSWORD).
// - with --pg-url, the local pg_dump / psql, the password handed over in PGPASSWORD (never in argv).
//
// Backups are plain SQL made with --clean --if-exists: restoring one replaces every object it holds, in a single
// transaction (all or nothing). Objects created after the backup are left alone.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PG_URL_FLAG, shownPath, type KitConfig } from '../core/config.js';
import type { Ctx, StepCtx } from '../kube/context.js';
import { CommandError, EnvironmentError, StepError, UsageError, type KitError } from '../core/errors.js';
import { formatCommand, type ExecResult } from '../core/exec.js';
import type { FlagSpec } from '../core/flags.js';
import { ensureClusterReachable } from '../preflight/checks.js';
import { confirm } from '../core/prompt.js';
import { connectPg, describePgUrl } from '../core/pg.js';
import type { RunResult, ScriptDef } from '../kube/script.js';
import { runStep } from '../kube/steps.js';
import { DB_NAME } from '../components/shared/postgres-credentials.js';
import { POSTGRES_SELECTOR } from '../components/postgres/index.js';
import { podReady } from '../kube/pod-diagnosis.js';

export const CONTAINER = 'postgresql';
export const DEFAULT_BACKUP_DIR = '.learnflow/backups';
export const DUMP_HEADER = '-- PostgreSQL database dump';
export const DUMP_COMPLETE = '-- PostgreSQL database dump complete';
export const DUMP_OPTIONS = ['--clean', '--if-exists', '--no-password'] as const;
const RESTORE_OPTIONS = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction'] as const;

/** In the pod: the container's own credentials, read from its environment by the shell, never from argv. */
const IN_POD_AUTH = 'export PGPASSWORD="$POSTGRES_PASSWORD"; ';
const IN_POD_TARGET = '-U "$POSTGRES_USER" -d "$POSTGRES_DB"';

/** User tables outside the system schemas: a database with any is "not empty". */
export const COUNT_TABLES_SQL = `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

const TIMEOUT_FLAG: FlagSpec = {
  name: 'timeout',
  kind: 'duration',
  valueName: 'DURATION',
  default: 10 * 60_000,
  description: 'give up on pg_dump / psql after this long',
};

export const BACKUP_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  {
    name: 'output',
    short: 'o',
    kind: 'string',
    valueName: 'FILE',
    description: `where to write the backup (default: ${DEFAULT_BACKUP_DIR}/learnflow-<UTC time>.sql); never overwrites a file`,
  },
  TIMEOUT_FLAG,
];

export const RESTORE_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  { name: 'input', short: 'i', kind: 'string', valueName: 'FILE', description: 'the backup to restore (a plain SQL file from backup-postgres.mts); required' },
  { name: 'force', kind: 'boolean', description: 'overwrite a database that already holds tables (the objects in the backup are replaced)' },
  { name: 'yes', short: 'y', kind: 'boolean', description: 'do not ask before overwriting (needed without a terminal)' },
  TIMEOUT_FLAG,
];

/** Where the SQL runs: a pod through kubectl exec, or the local tools against --pg-url. */
type Target = { kind: 'pod'; pod: string; describe: string } | { kind: 'url'; url: string; describe: string };

export function timestampName(now: number): string {
  return `learnflow-${new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}.sql`;
}

function timeoutOf(ctx: Ctx): number {
  return Number(ctx.config.flags.timeout ?? 10 * 60_000);
}

/** The URL without its password, and the password: the first goes into argv, the second into PGPASSWORD. */
export function splitPgUrl(url: string): { dbname: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbname: u.toString(), password };
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
  if (ctx.config.pgUrl) return { kind: 'url', url: ctx.config.pgUrl, describe: describePgUrl(ctx.config.pgUrl) };
  // Without --pg-url everything goes through the cluster: an unreachable one is exit 3 with the fix, not raw kubectl.
  await ensureClusterReachable(ctx);
  const pod = await findPod(ctx);
  return {
    kind: 'pod',
    pod,
    describe: `database ${DB_NAME} in pod ${pod} (namespace ${ctx.config.namespace}${ctx.config.context ? `, context ${ctx.config.context}` : ''})`,
  };
}

/** `kubectl exec [-i] POD -c postgresql -- sh -c SCRIPT`, with SQL on stdin when there is some. */
function execInPod(ctx: Ctx, pod: string, script: string, opts: { input?: string; timeoutMs: number }): Promise<ExecResult> {
  return ctx.kube.run(inPodArgs(ctx, pod, script, opts.input !== undefined), { input: opts.input, timeoutMs: opts.timeoutMs, quiet: false });
}

function inPodArgs(ctx: Ctx, pod: string, script: string, stdin: boolean): string[] {
  return ['exec', ...(stdin ? ['-i'] : []), '-n', ctx.config.namespace, pod, '-c', CONTAINER, '--', 'sh', '-c', script];
}

/** What a dry-run knows of the target: no pod is looked up, so it is named by its selector. */
type PlannedTarget = { kind: 'pod'; pod: string } | { kind: 'url'; url: string };
const PLANNED_POD = `<ready pod -l ${POSTGRES_SELECTOR}>`;

/**
 * The one command a backup or a restore runs, as data: the run executes it and --dry-run prints it, so the two
 * cannot differ. `file`: where pg_dump writes (the partial file, renamed once complete) or what psql reads.
 */
export function toolCommand(
  ctx: Ctx,
  what: 'dump' | 'restore',
  target: PlannedTarget,
  file: string,
): { cmd: 'kubectl' | 'pg_dump' | 'psql'; args: string[]; stdin?: string } {
  if (target.kind === 'url') {
    const { dbname } = splitPgUrl(target.url);
    return what === 'dump'
      ? { cmd: 'pg_dump', args: ['--dbname', dbname, ...DUMP_OPTIONS, '--file', file] }
      : { cmd: 'psql', args: [...RESTORE_OPTIONS, '--dbname', dbname, '--file', file] };
  }
  return what === 'dump'
    ? { cmd: 'kubectl', args: inPodArgs(ctx, target.pod, `${IN_POD_AUTH}exec pg_dump ${IN_POD_TARGET} ${DUMP_OPTIONS.join(' ')}`, false) }
    : { cmd: 'kubectl', args: inPodArgs(ctx, target.pod, `${IN_POD_AUTH}exec psql ${RESTORE_OPTIONS.join(' ')} ${IN_POD_TARGET} -f -`, true), stdin: file };
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

async function countTables(ctx: Ctx, target: Target): Promise<number> {
  if (target.kind === 'url') {
    const client = await connectPg(target.url);
    try {
      const { rows } = await client.query<{ count: string }>(COUNT_TABLES_SQL);
      return Number(rows[0]?.count ?? 0);
    } finally {
      await client.end().catch(() => {});
    }
  }
  try {
    const r = await execInPod(ctx, target.pod, `${IN_POD_AUTH}exec psql -X -At -v ON_ERROR_STOP=1 ${IN_POD_TARGET} -f -`, {
      input: COUNT_TABLES_SQL + ';\n',
      timeoutMs: 60_000,
    });
    return Number(r.stdout.trim().split('\n').pop() ?? 0);
  } catch (err) {
    throw explainToolError(err, 'psql', target);
  }
}

/** What a backup file holds, from its text. */
export function inspectDump(text: string): { complete: boolean; tables: number; clean: boolean } {
  return {
    complete: text.includes(DUMP_COMPLETE),
    tables: (text.match(/^CREATE TABLE /gm) ?? []).length,
    clean: /^DROP (TABLE|SCHEMA|EXTENSION|SEQUENCE|INDEX|TYPE|FUNCTION|VIEW)/m.test(text),
  };
}

/** Written next to the target and renamed once complete: a failed backup never leaves a truncated file behind. */
function partialOf(out: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.partial`);
}

function resolveOutput(ctx: Ctx): string {
  const given = ctx.config.flags.output;
  if (given !== undefined) return path.resolve(process.cwd(), String(given));
  return path.join(ctx.root, DEFAULT_BACKUP_DIR, timestampName(ctx.clock.now()));
}

async function backup(step: StepCtx, out: string): Promise<void> {
  const target = await resolveTarget(step);
  const timeoutMs = timeoutOf(step);
  mkdirSync(path.dirname(out), { recursive: true });
  const partial = partialOf(out);
  step.log.info(`backing up ${target.describe} to ${shownPath(out)}`);
  const c = toolCommand(step, 'dump', target, partial);
  try {
    if (target.kind === 'url') {
      writeFileSync(partial, '', { mode: 0o600 });
      await step.exec(c.cmd, c.args, { env: pgEnv(target.url), timeoutMs, quiet: false });
    } else {
      const r = await step.kube.run(c.args, { timeoutMs, quiet: false });
      writeFileSync(partial, r.stdout, { mode: 0o600 });
    }
  } catch (err) {
    rmSync(partial, { force: true });
    throw explainToolError(err, 'pg_dump', target);
  }
  chmodSync(partial, 0o600);
  const info = inspectDump(readFileSync(partial, 'utf8'));
  if (!info.complete) {
    rmSync(partial, { force: true });
    throw new StepError(`pg_dump ended without its "dump complete" line: the backup is incomplete and was not kept`, {
      fix: 'run the backup again; raise --timeout for a large database',
    });
  }
  renameSync(partial, out);
  const size = statSync(out).size;
  step.check('backup', true, `${info.tables} tables, ${formatBytes(size)} -> ${shownPath(out)} (mode 600: it holds your data)`);
  step.change(shownPath(out), 'written');
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
      'Backs up the LearnFlow database to a local plain-SQL file (pg_dump --clean --if-exists).',
      "By default pg_dump runs inside the PostgreSQL pod (kubectl exec): no local client tools needed, always the server's version.",
      'With --pg-url URL the local pg_dump is used instead (password through PGPASSWORD, never on the command line).',
      'Restore with ./scripts/restore-postgres.mts --input FILE.',
    ].join('\n'),
    flags: BACKUP_FLAGS,
    footer:
      'Exit codes: 0 backed up, 1 pg_dump failed or the database is unreachable, 2 bad usage, 3 environment not ready (missing tool, no cluster).\nTroubleshooting: docs/troubleshooting.md#postgres-unreachable; guide: docs/operations.md#backup-and-restore',
    async run(ctx): Promise<RunResult> {
      const out = resolveOutput(ctx);
      if (existsSync(out))
        throw new UsageError(`${shownPath(out)} already exists; a backup never overwrites a file`, {
          fix: 'pick another --output, or remove the old file first',
        });
      if (ctx.config.dryRun) {
        const c = toolCommand(ctx, 'dump', plannedTarget(ctx), partialOf(out));
        ctx.log.info('dry run: nothing was contacted');
        return {
          steps: [],
          budgetMs: null,
          output: `# would run: ${showCommand(ctx, c)}${c.cmd === 'kubectl' ? ` > ${shownPath(partialOf(out))}` : ''}\n# then, once it is complete, rename it to: ${shownPath(out)}`,
        };
      }
      const step = await runStep(ctx, { name: 'backup-postgres', budgetMs: null, run: (s) => backup(s, out) });
      return { steps: [step], budgetMs: null, ...(step.ok ? { artifacts: { backup: shownPath(out) } } : {}) };
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
  const existing = await countTables(step, target);
  if (existing > 0) {
    const what = `${target.describe}, which holds ${existing} table(s)`;
    const f = step.config.flags;
    if (f.force !== true)
      throw new UsageError(`refusing to overwrite ${what}`, { fix: `add --force to replace its contents with the backup (${info.tables} tables)` });
    if (!info.clean)
      throw new UsageError(`${shownPath(file)} was made without --clean, so it cannot replace existing tables`, {
        fix: 'restore it into an empty database, or use a backup from ./scripts/backup-postgres.mts',
      });
    if (f.yes !== true) {
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

/** The backup file to restore, as given (--input, relative to where the user stands). */
function restoreInput(config: KitConfig): string {
  const input = config.flags.input;
  if (input === undefined) throw new UsageError('say which backup to restore: --input FILE', { fix: `ls ${DEFAULT_BACKUP_DIR}/` });
  const file = path.resolve(process.cwd(), String(input));
  const shown = shownPath(file);
  if (!existsSync(file)) throw new UsageError(`--input ${shown} does not exist`, { fix: `ls ${DEFAULT_BACKUP_DIR}/` });
  if (statSync(file).isDirectory()) throw new UsageError(`--input ${shown} is a folder, not a backup file`, { fix: `ls ${shown}/` });
  return file;
}

export function restoreScript(ask: (q: string) => Promise<boolean> = confirm, interactive: () => boolean = () => Boolean(process.stdin.isTTY)): ScriptDef {
  return {
    name: 'restore-postgres',
    summary: [
      'Restores a backup made by backup-postgres.mts into the LearnFlow database, in one transaction (all or nothing):',
      'every object in the backup is replaced; objects created after the backup are left alone.',
      'Refuses to overwrite a database that holds tables unless --force, and then asks first; without a terminal it needs --yes.',
      'By default psql runs inside the PostgreSQL pod (kubectl exec); with --pg-url URL the local psql is used.',
    ].join('\n'),
    flags: RESTORE_FLAGS,
    // With --pg-url the local psql writes to that server; the cluster is not touched.
    changesCluster: (config) => (config.pgUrl ? false : { what: 'overwrite its database' }),
    checkUsage: (config) => void readBackup(restoreInput(config)),
    footer:
      'Exit codes: 0 restored, 1 psql failed or the database is unreachable (nothing changed), 2 bad usage or not confirmed, 3 environment not ready.\nTroubleshooting: docs/troubleshooting.md#postgres-unreachable; guide: docs/operations.md#backup-and-restore',
    async run(ctx): Promise<RunResult> {
      const file = restoreInput(ctx.config);
      if (ctx.config.dryRun) {
        const { info } = readBackup(file);
        ctx.log.info('dry run: nothing was contacted');
        const where = ctx.config.pgUrl ? describePgUrl(ctx.config.pgUrl) : `the PostgreSQL pod in ${ctx.config.namespace}`;
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
    },
  };
}
