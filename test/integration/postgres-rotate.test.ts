// Password rotation against a REAL PostgreSQL: the old password stops working, the new one works,
// the data is intact, and the password itself never reaches pg_stat_statements.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setRolePassword } from '../../scripts/lib/components/postgres/rotate.js';
import { runKit } from '../support/cli.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';

let server: PostgresInstance;
let adminDbUrl: string;
const userUrl = (pw: string) => `postgres://learnflow_user:${encodeURIComponent(pw)}@127.0.0.1:${server.port}/learnflow`;

async function canLogin(pw: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: userUrl(pw), connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

beforeAll(async () => {
  server = await startPostgres();
  adminDbUrl = await server.createDatabase('learnflow');
  const admin = new pg.Client({ connectionString: adminDbUrl });
  await admin.connect();
  // Like the postgres image: the application user is the database owner and a superuser.
  await admin.query(`CREATE ROLE learnflow_user LOGIN SUPERUSER PASSWORD 'old-password-1'`);
  await admin.query('ALTER DATABASE learnflow OWNER TO learnflow_user');
  await admin.end();
  expect((await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', userUrl('old-password-1')])).code).toBe(0);
});
afterAll(async () => server?.stop());

describe('password rotation', () => {
  it('old password stops working, new one works, data intact, password not in pg_stat_statements', async () => {
    const c = new pg.Client({ connectionString: userUrl('old-password-1') });
    await c.connect();
    await setRolePassword(c, 'learnflow_user', 'new-password-2');
    await c.end();

    expect(await canLogin('old-password-1')).toBe(false);
    expect(await canLogin('new-password-2')).toBe(true);

    const n = new pg.Client({ connectionString: userUrl('new-password-2') });
    await n.connect();
    expect((await n.query<{ n: string }>('SELECT count(*) AS n FROM topics')).rows[0]!.n).toBe('24');
    const leaked = await n.query(`SELECT query FROM pg_stat_statements WHERE query ILIKE '%new-password-2%' OR query ILIKE '%SCRAM-SHA-256$%'`);
    expect(leaked.rows).toEqual([]);
    await n.end();
  });

  it('--rotate-secrets with --no-cluster is refused: the password lives in the Secret', async () => {
    const r = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', userUrl('new-password-2'), '--rotate-secrets']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--no-cluster and --rotate-secrets contradict each other');
  });
});
