// deploy-postgres and verify-postgres against a REAL PostgreSQL 15 (--no-cluster --pg-url).

import net from 'node:net';
import { cpSync, mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { REPO, runKit, STACK_TRACE } from '../support/cli.js';
import { queryOnce, startPostgres, type PostgresInstance } from '../support/postgres.js';

let server: PostgresInstance;
let url: string;

const query = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => queryOnce<T>(url, sql, params);

const counts = () =>
  query<{ t: string; n: string }>(
    `SELECT 'users' t, count(*) n FROM users UNION ALL SELECT 'topics', count(*) FROM topics UNION ALL SELECT 'students', count(*) FROM students UNION ALL SELECT 'exercises', count(*) FROM exercises UNION ALL SELECT 'migrations', count(*) FROM learnflow_migrations ORDER BY 1`,
  );

const deploy = (...extra: string[]) => runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url, '--json', ...extra]);
const verify = (...extra: string[]) => runKit('scripts/verify-postgres.mts', ['--no-cluster', '--pg-url', url, '--json', ...extra]);

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase('learnflow');
});
afterAll(async () => {
  await server?.stop();
});

describe('deploy-postgres --no-cluster against a real PostgreSQL', () => {
  it('applies schema and seed, and a second run applies nothing and keeps the counts', async () => {
    const first = await deploy();
    expect(first.stderr).not.toMatch(STACK_TRACE);
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.stdout) as Report;
    expect(r1.steps[0]!.changes).toMatchObject({
      'migration 0001_schema.sql': 'applied',
      'migration 0002_seed_topics.sql': 'applied',
      'migration 0003_seed_test_users.sql': 'applied',
    });
    const before = await counts();
    expect(before.find((r) => r.t === 'topics')!.n).toBe('24');

    const second = await deploy();
    expect(second.code).toBe(0);
    expect(Object.values((JSON.parse(second.stdout) as Report).steps[0]!.changes!)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(await counts()).toEqual(before);
  });

  it('keeps rows a user wrote between runs', async () => {
    await query(
      `INSERT INTO users (email, password_hash, display_name, role) VALUES ('someone@example.com', '$2b$12$abcdefghijklmnopqrstuuJ0J1mX8Qe2mV5k7QhLhC5y6Q0c8Q9Wq', 'Someone', 'student')`,
    );
    await query(`UPDATE topics SET title = 'Edited by a user' WHERE position = 1`);
    expect((await deploy()).code).toBe(0);
    expect(await query(`SELECT email FROM users WHERE email = 'someone@example.com'`)).toHaveLength(1);
    expect((await query<{ title: string }>(`SELECT title FROM topics WHERE position = 1`))[0]!.title).toBe('Edited by a user');
  });

  it('creates every table with indexes on all foreign-key columns', async () => {
    const unindexed = await query<{ fk: string }>(`
      SELECT c.conrelid::regclass || '.' || a.attname AS fk
      FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      WHERE c.contype = 'f' AND NOT EXISTS (
        SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])`);
    expect(unindexed).toEqual([]);
    const hashes = await query<{ password_hash: string }>(`SELECT password_hash FROM users WHERE email LIKE 'dev.%'`);
    expect(hashes.length).toBeGreaterThanOrEqual(3);
    for (const h of hashes) expect(h.password_hash).toMatch(/^\$2[aby]\$\d\d\$/);
  });

  it('verify passes every check', async () => {
    const r = await verify();
    expect(r.code).toBe(0);
    const checks = (JSON.parse(r.stdout) as Report).steps[0]!.checks;
    expect(checks.map((c) => c.name)).toEqual([
      'connection',
      'password required',
      'tables',
      'foreign keys',
      'curriculum topics',
      'test users',
      'write/read round trip',
    ]);
    expect(checks.every((c) => c.ok)).toBe(true);
  });

  it('verify fails and names the table when one is dropped, and deploy does not mask it', async () => {
    await query('DROP TABLE struggle_alerts');
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      const checks = (JSON.parse(r.stdout) as Report).steps[0]!.checks;
      const tables = checks.find((c) => c.name === 'tables')!;
      expect(tables.ok).toBe(false);
      expect(tables.detail).toContain('struggle_alerts');
      // the other checks still ran
      expect(checks.find((c) => c.name === 'curriculum topics')!.ok).toBe(true);
    } finally {
      // put it back for the remaining tests: re-run the schema file by hand
      const { readFileSync } = await import('node:fs');
      await query(readFileSync(path.join(REPO, 'sql/migrations/0001_schema.sql'), 'utf8'));
    }
    expect((await verify()).code).toBe(0);
  });

  it('refuses an applied migration whose content changed, naming the file, and applies nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-migrations-'));
    try {
      cpSync(path.join(REPO, 'sql/migrations'), dir, { recursive: true });
      appendFileSync(path.join(dir, '0002_seed_topics.sql'), '\n-- edited after it was applied\n');
      appendFileSync(path.join(dir, '0004_new.sql'), 'CREATE TABLE new_table_from_0004 (id int);\n');
      const r = await deploy('--migrations', dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('0002_seed_topics.sql was changed after it was applied');
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(await query(`SELECT to_regclass('public.new_table_from_0004') AS t`)).toEqual([{ t: null }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a new migration file is applied once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-migrations-'));
    try {
      cpSync(path.join(REPO, 'sql/migrations'), dir, { recursive: true });
      appendFileSync(path.join(dir, '0004_new.sql'), 'CREATE TABLE IF NOT EXISTS new_table_from_0004 (id int);\n');
      const r = await deploy('--migrations', dir);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as Report).steps[0]!.changes!['migration 0004_new.sql']).toBe('applied');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable --pg-url fails within 10 s with a clear message and no stack trace', { timeout: 30_000 }, async () => {
    // A loopback port that accepts connections and never answers: the slow failure, not the fast one.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const r = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', `postgres://u:p@127.0.0.1:${port}/learnflow`]);
      expect(r.code).toBe(1);
      expect(r.durationMs).toBeLessThan(10_000);
      expect(r.stderr).toMatch(new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}/learnflow did not answer`));
      expect(r.stderr).not.toMatch(STACK_TRACE);
    } finally {
      silent.close();
    }
    const refused = await runKit('scripts/verify-postgres.mts', ['--no-cluster', '--pg-url', 'postgres://u:p@127.0.0.1:1/learnflow']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refused the connection');
  });

  it('wrong credentials are named as such, and the password is not printed', async () => {
    const bad = url.replace(/:([^:@/]+)@/, ':wrong-password-xyz@');
    const r = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rejected the credentials');
    expect(r.stderr + r.stdout).not.toContain('wrong-password-xyz');
  });

  it('an unknown flag exits 2', async () => {
    const r = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url, '--wat']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown flag --wat');
  });
});
