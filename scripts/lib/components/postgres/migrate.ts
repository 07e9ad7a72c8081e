// sql/migrations/*.sql, each applied once in its own transaction and recorded with its checksum.
// A re-run applies nothing new and touches no user data; an applied file that changed is refused.

import { inTransaction } from '../shared/postgres-client.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { StepError, UsageError } from '../../core/errors.js';
import { shownPath } from '../../core/config.js';
import { flag } from '../../core/flags.js';

export const MIGRATIONS_TABLE = 'learnflow_migrations';

export const MIGRATIONS_FLAG = flag({
  name: 'migrations',
  kind: 'string',
  valueName: 'DIR',
  default: 'sql/migrations',
  description: 'folder of *.sql migrations, applied in name order, each once',
});
/** Two concurrent deploys must not both apply a file. */
const LOCK_KEY = 7_331_001;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
  /** Where it was read from, as the user can paste it (relative to the current directory when inside it). */
  file: string;
}

export interface MigrationResult {
  applied: string[];
  unchanged: string[];
}

export function checksum(sql: string): string {
  // Line endings normalised: a checkout with CRLF is not a changed migration.
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export function loadMigrations(dir: string): Migration[] {
  if (!existsSync(dir))
    throw new UsageError(`--migrations: folder ${shownPath(dir)} does not exist`, {
      fix: 'give the folder that holds the *.sql files, e.g. --migrations sql/migrations',
    });
  if (!statSync(dir).isDirectory())
    throw new UsageError(`--migrations: ${shownPath(dir)} is a file, not a folder`, {
      fix: `give the folder that holds it: --migrations ${shownPath(path.dirname(dir))}`,
    });
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      const sql = readFileSync(file, 'utf8');
      return { name, sql, checksum: checksum(sql), file: shownPath(file) };
    });
}

export async function migrate(client: pg.Client, migrations: readonly Migration[], onApply?: (name: string) => void): Promise<MigrationResult> {
  await client.query(`CREATE TABLE IF NOT EXISTS public.${MIGRATIONS_TABLE} (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  try {
    const { rows } = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM public.${MIGRATIONS_TABLE}`);
    const recorded = new Map(rows.map((r) => [r.name, r.checksum]));
    // Check every file before applying any, so a refused run changes nothing.
    const changed = migrations.find((m) => recorded.has(m.name) && recorded.get(m.name) !== m.checksum);
    if (changed) {
      throw new StepError(
        `${changed.name} was changed after it was applied (recorded checksum ${recorded.get(changed.name)!.slice(0, 12)}, file now ${changed.checksum.slice(0, 12)})`,
        {
          fix: `restore it (git checkout -- ${changed.file}) and put the change in a new file (e.g. ${path.join(path.dirname(changed.file), nextName(migrations))})`,
          docs: 'migration-changed',
        },
      );
    }
    const result: MigrationResult = { applied: [], unchanged: [] };
    for (const m of migrations) {
      if (recorded.has(m.name)) {
        result.unchanged.push(m.name);
        continue;
      }
      onApply?.(m.name);
      await inTransaction(client, async () => {
        await client.query(m.sql);
        await client.query(`INSERT INTO public.${MIGRATIONS_TABLE} (name, checksum) VALUES ($1, $2)`, [m.name, m.checksum]);
      }).catch((err: Error) => {
        throw new StepError(`migration ${m.name} failed and was rolled back: ${err.message}`, { cause: err });
      });
      result.applied.push(m.name);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
  }
}

function nextName(migrations: readonly Migration[]): string {
  const last = migrations.at(-1)?.name ?? '0000';
  const n = Number(last.slice(0, 4)) + 1;
  return `${String(n).padStart(4, '0')}_describe_the_change.sql`;
}
