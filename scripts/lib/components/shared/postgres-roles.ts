// Least-privilege login roles in PostgreSQL, checked before changed: a role that can log in and nothing more, its
// password set as a SCRAM verifier (never the password itself). Used for the Dapr state store's role and the
// services' database owners; callers run it inside their own transaction.

import type pg from 'pg';
import { scramVerifier, verifierMatches } from './postgres-scram.js';

/** What changed, by object: "created", "configured", "unchanged", "password set". */
export type RoleChanges = Record<string, string>;

const ROLE_ATTRIBUTES = {
  rolcanlogin: ['LOGIN', true],
  rolsuper: ['NOSUPERUSER', false],
  rolcreatedb: ['NOCREATEDB', false],
  rolcreaterole: ['NOCREATEROLE', false],
  rolreplication: ['NOREPLICATION', false],
  rolbypassrls: ['NOBYPASSRLS', false],
  rolinherit: ['NOINHERIT', false],
} as const;

export type RoleRow = { [K in keyof typeof ROLE_ATTRIBUTES]: boolean } & { rolconfig: string[] | null };

/** A plain lower-case identifier, quoted; anything else is a bug in the kit's names. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`'${name}' is not a plain lower-case identifier`);
  return `"${name}"`;
}

export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export interface LoginRoleOptions {
  role: string;
  password: string;
  /** When pg_authid is not readable (not a superuser): can the role log in with this password? */
  canLogin?: (role: string, password: string) => Promise<boolean>;
  /** Set on the role (COMMENT ON ROLE): how the kit finds the roles it made. */
  comment?: string;
}

/** Ensures the login role and its password; returns the role's row as it was (undefined: created now). */
export async function ensureLoginRole(client: pg.Client, o: LoginRoleOptions, changes: RoleChanges): Promise<RoleRow | undefined> {
  const r = ident(o.role);
  const attrs = Object.values(ROLE_ATTRIBUTES)
    .map(([sql]) => sql)
    .join(' ');
  const { rows } = await client.query<RoleRow>(`SELECT ${Object.keys(ROLE_ATTRIBUTES).join(', ')}, rolconfig FROM pg_roles WHERE rolname = $1`, [o.role]);
  const existing = rows[0];
  if (!existing) {
    await client.query(`CREATE ROLE ${r} ${attrs} PASSWORD ${literal(scramVerifier(o.password))}`);
    changes[`role ${o.role}`] = 'created';
  } else {
    const wrong = Object.entries(ROLE_ATTRIBUTES).filter(([col, [, want]]) => existing[col as keyof typeof ROLE_ATTRIBUTES] !== want);
    if (wrong.length) {
      await client.query(`ALTER ROLE ${r} ${wrong.map(([, [sql]]) => sql).join(' ')}`);
      changes[`role ${o.role}`] = 'configured';
    } else changes[`role ${o.role}`] = 'unchanged';
    if (!(await passwordIsCurrent(client, o))) {
      await client.query(`ALTER ROLE ${r} PASSWORD ${literal(scramVerifier(o.password))}`);
      changes[`role ${o.role} password`] = 'password set';
    } else changes[`role ${o.role} password`] = 'unchanged';
  }
  if (o.comment !== undefined) {
    const { rows: c } = await client.query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
      [o.role],
    );
    if (c[0]?.comment !== o.comment) await client.query(`COMMENT ON ROLE ${r} IS ${literal(o.comment)}`);
  }
  return existing;
}

async function passwordIsCurrent(client: pg.Client, o: LoginRoleOptions): Promise<boolean> {
  await client.query('SAVEPOINT authid');
  try {
    const { rows } = await client.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [o.role]);
    await client.query('RELEASE SAVEPOINT authid');
    return verifierMatches(rows[0]?.rolpassword, o.password);
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT authid');
    if ((err as { code?: string }).code !== '42501' || !o.canLogin) return false;
    return o.canLogin(o.role, o.password);
  }
}
