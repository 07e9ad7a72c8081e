// backup-postgres and restore-postgres against a REAL PostgreSQL 15 (--pg-url: the local pg_dump / psql of the
// same major). The kit's migrations first, then a backup, damage, a restore, and the data compared table by table.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';

const PG_BIN = process.env.LEARNFLOW_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** pg_dump and psql of the server's major first on PATH (Debian's /usr/bin wrappers pick a version themselves). */
const env = { PATH: `${PG_BIN}:${process.env.PATH ?? ''}` };

let server: PostgresInstance;
let url: string;
let dir: string;

async function query<T extends pg.QueryResultRow>(sql: string, target = url): Promise<T[]> {
  const c = new pg.Client({ connectionString: target });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Every table of the public schema: its row count and a digest of its rows in a stable order. */
async function snapshot(target = url): Promise<Record<string, string>> {
  const tables = await query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`, target);
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await query<{ n: string; digest: string | null }>(
      `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS digest FROM public.${t} x`,
      target,
    );
    out[t] = `${row!.n}:${row!.digest}`;
  }
  return out;
}

const backup = (...args: string[]) => runKit('scripts/backup-postgres.mts', ['--pg-url', url, ...args], { env });
const restore = (...args: string[]) => runKit('scripts/restore-postgres.mts', ['--pg-url', url, ...args], { env });

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase('learnflow');
  dir = mkdtempSync(path.join(tmpdir(), 'learnflow-backup-'));
  const deploy = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url], { env });
  if (deploy.code !== 0) throw new Error(`deploy-postgres failed:\n${deploy.stderr}`);
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('backup-postgres / restore-postgres round trip on a real PostgreSQL', () => {
  it('backs up, survives damage, restores, and the data is equal', async () => {
    // Rows a user wrote after the migrations are part of the backup.
    await query(
      `INSERT INTO users (email, password_hash, display_name, role) VALUES ('kept@example.com', '$2b$12$abcdefghijklmnopqrstuuJ0J1mX8Qe2mV5k7QhLhC5y6Q0c8Q9Wq', 'Kept', 'student')`,
    );
    const before = await snapshot();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['users', 'topics', 'chat_history', 'learnflow_migrations']));

    const file = path.join(dir, 'learnflow.sql');
    const b = await backup('--output', file, '--json', '--verbose');
    expect(b.stderr).not.toMatch(STACK_TRACE);
    expect(b.code, b.stderr).toBe(0);
    const report = JSON.parse(b.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(report.steps[0]!.checks[0]!.detail).toMatch(/tables/);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('-- PostgreSQL database dump complete');
    expect(text).toMatch(/^DROP TABLE IF EXISTS public\.users/m);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The password is in PGPASSWORD for pg_dump, never in a logged command line or the report.
    expect(b.stderr + b.stdout).not.toContain(server.password);
    expect(b.stderr).toMatch(/\$ pg_dump --dbname /);

    // A backup never overwrites a file.
    const again = await backup('--output', file);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);

    // Damage: a table gone, rows added, rows changed.
    await query(`DROP TABLE chat_history`);
    await query(`INSERT INTO topics (position, slug, title, description, difficulty) VALUES (999, 'stray', 'Stray', 'added after the backup', 'beginner')`);
    await query(`UPDATE users SET display_name = 'Changed' WHERE email = 'kept@example.com'`);
    expect(await snapshot()).not.toEqual(before);

    // Not empty: refused without --force, then without a terminal to ask, and nothing changes.
    const refused = await restore('--input', file);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to overwrite .* holds \d+ table\(s\)/);
    expect(refused.stderr).toMatch(/--force/);
    const noTty = await restore('--input', file, '--force');
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/no terminal to ask/);
    expect(noTty.stderr).toMatch(/--yes/);
    expect((await query(`SELECT count(*)::int AS n FROM topics WHERE slug = 'stray'`))[0]).toEqual({ n: 1 });

    const r = await restore('--input', file, '--force', '--yes', '--json');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Report).steps[0]!.changes).toEqual({ [`127.0.0.1:${server.port}/learnflow`]: 'overwritten' });
    expect(r.stderr + r.stdout).not.toContain(server.password);
    expect(await snapshot()).toEqual(before);

    // And the kit still sees its schema as applied: a re-deploy changes nothing.
    const redeploy = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url, '--json'], { env });
    expect(redeploy.code).toBe(0);
    expect(Object.values((JSON.parse(redeploy.stdout) as Report).steps[0]!.changes!).every((c) => c === 'unchanged')).toBe(true);
  });

  it('restores into an empty database without asking', async () => {
    const file = path.join(dir, 'for-copy.sql');
    expect((await backup('--output', file)).code).toBe(0);
    const copyUrl = await server.createDatabase('learnflow_copy');
    const r = await runKit('scripts/restore-postgres.mts', ['--pg-url', copyUrl, '--input', file], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await snapshot(copyUrl)).toEqual(await snapshot());
  });

  it('refuses a file that is not a complete backup, and changes nothing when psql fails half way', async () => {
    const notDump = path.join(dir, 'notes.sql');
    writeFileSync(notDump, 'SELECT 1;\n');
    const r1 = await restore('--input', notDump, '--force', '--yes');
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/not a plain-SQL pg_dump backup/);

    const good = path.join(dir, 'good.sql');
    expect((await backup('--output', good)).code).toBe(0);
    const truncated = path.join(dir, 'truncated.sql');
    writeFileSync(truncated, readFileSync(good, 'utf8').replace('-- PostgreSQL database dump complete', ''));
    const r2 = await restore('--input', truncated, '--force', '--yes');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/incomplete/);

    // A backup that fails in the middle: the single transaction rolls everything back.
    const before = await snapshot();
    const broken = path.join(dir, 'broken.sql');
    writeFileSync(broken, readFileSync(good, 'utf8').replace(/^(CREATE TABLE public\.users)/m, 'THIS IS NOT SQL;\n$1'));
    const r3 = await restore('--input', broken, '--force', '--yes');
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/nothing was changed/);
    expect(r3.stderr).not.toMatch(STACK_TRACE);
    expect(await snapshot()).toEqual(before);
  });

  it('says what is wrong when PostgreSQL is unreachable or the tools are missing', async () => {
    const dead = `postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:1/learnflow`;
    const r = await runKit('scripts/backup-postgres.mts', ['--pg-url', dead, '--output', path.join(dir, 'never.sql')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not connect/);
    expect(r.stderr).toMatch(/troubleshooting\.md#postgres-unreachable/);
    expect(r.stderr).not.toContain(server.password);
    expect(existsSync(path.join(dir, 'never.sql'))).toBe(false);
    expect(existsSync(path.join(dir, '.never.sql.partial'))).toBe(false);

    // A PATH with a shell (the kit's exec runs through it) and nothing else.
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(execFileSync('sh', ['-c', 'command -v bash']).toString().trim(), path.join(bin, 'bash'));
    const noTools = await runKit('scripts/backup-postgres.mts', ['--pg-url', url, '--output', path.join(dir, 'never2.sql')], { env: { PATH: bin } });
    expect(noTools.code).toBe(3);
    expect(noTools.stderr).toMatch(/pg_dump is not installed/);
    expect(noTools.stderr).toMatch(/drop --pg-url/);
  });
});
