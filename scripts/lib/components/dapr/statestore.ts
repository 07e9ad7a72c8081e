// The state store's own PostgreSQL role: dapr_state, LOGIN only, owning the schema `dapr` for Dapr's tables
// (PostgreSQL 15+ forbids CREATE in `public` to non-owners). Its password is generated once and kept in the Secret
// dapr-statestore (key connectionString). Every step checks before it changes, so a re-run touches nothing.
// The server gets only a SCRAM verifier (shared/postgres-roles.ts): the password never shows in its logs.

import { pgServiceHost, PG_PORT, type ConnectionTarget } from '../shared/postgres-topology.js';
import { inTransaction, tryLogin } from '../shared/postgres-client.js';
import type pg from 'pg';
import type { Ctx } from '../../run/context.js';
import { StepError } from '../../core/errors.js';
import { ensureLoginRole, ident, type RoleChanges } from '../shared/postgres-roles.js';
import { DB_NAME, generatePassword } from '../shared/postgres-credentials.js';
import { STATE_ROLE, STATE_SCHEMA, STATESTORE_SECRET } from './settings.js';
import { readSecret } from '../../kube/secrets.js';

/** Serialises concurrent kit runs on the role setup (CREATE ROLE is not idempotent under a race). */
const LOCK_KEY = 0x64617072; // "dapr"

/** The in-cluster address daprd uses (never the port-forward the kit used to set the role up). */
export function inClusterTarget(namespace: string): ConnectionTarget {
  return { host: pgServiceHost(namespace), port: PG_PORT, database: DB_NAME, user: STATE_ROLE };
}

export function parseConnectionString(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/(\w+)=('(?:[^'\\]|\\.)*'|\S*)/g)) {
    const raw = m[2]!;
    out[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return out;
}

/** The password kept in Secret dapr-statestore, or a new one on the first deploy. Registered as a secret. */
export async function stateStorePassword(ctx: Ctx): Promise<{ password: string; generated: boolean }> {
  const cs = (await readSecret(ctx, STATESTORE_SECRET))?.get('connectionString');
  if (cs) {
    const password = parseConnectionString(cs).password;
    if (password && /^[A-Za-z0-9_-]+$/.test(password)) {
      ctx.secrets.add(password);
      return { password, generated: false };
    }
    ctx.log.warn(`Secret ${STATESTORE_SECRET} holds no usable password; generating a new one`);
  }
  const password = generatePassword();
  ctx.secrets.add(password);
  return { password, generated: true };
}

export interface RoleSetupOptions {
  password: string;
  /** When pg_authid is not readable (not a superuser): can the role log in with this password? (Default: try it.) */
  canLogin?: (role: string, password: string) => Promise<boolean>;
}

export type RoleSetupResult = RoleChanges;

/**
 * Ensures the role, its password, its schema and its search_path, in one transaction under an advisory lock.
 * The connected user needs CREATEROLE and membership in the role (a superuser, as the kit's deployment has).
 */
export async function ensureStateStoreRole(client: pg.Client, o: RoleSetupOptions): Promise<RoleSetupResult> {
  const role = STATE_ROLE;
  const schema = STATE_SCHEMA;
  const r = ident(role);
  const s = ident(schema);
  const canLogin = o.canLogin ?? (async (name: string, password: string) => (await tryLogin(client, name, password)).ok);
  const result: RoleSetupResult = {};
  try {
    await inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const existing = await ensureLoginRole(client, { role, password: o.password, canLogin }, result);

      // Unqualified names resolve to the role's schema (Dapr's tablePrefix says it too; this covers the rest).
      const config = existing?.rolconfig ?? [];
      if (!config.includes(`search_path=${schema}`)) {
        await client.query(`ALTER ROLE ${r} SET search_path = ${s}`);
        result[`role ${role} search_path`] = 'configured';
      } else {
        result[`role ${role} search_path`] = 'unchanged';
      }

      const { rows: ns } = await client.query<{ owner: string }>('SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1', [schema]);
      if (!ns[0]) {
        await client.query(`CREATE SCHEMA ${s} AUTHORIZATION ${r}`);
        result[`schema ${schema}`] = 'created';
      } else if (ns[0].owner !== role) {
        await client.query(`ALTER SCHEMA ${s} OWNER TO ${r}`);
        result[`schema ${schema}`] = 'configured';
      } else {
        result[`schema ${schema}`] = 'unchanged';
      }

      // CONNECT normally comes from PUBLIC; grant it only where a hardened database revoked that.
      const { rows: can } = await client.query<{ ok: boolean }>(`SELECT has_database_privilege($1, current_database(), 'CONNECT') AS ok`, [role]);
      if (!can[0]?.ok) {
        const { rows: db } = await client.query<{ name: string }>('SELECT current_database() AS name');
        await client.query(`GRANT CONNECT ON DATABASE ${ident(db[0]!.name)} TO ${r}`);
        result[`role ${role} connect`] = 'configured';
      }
    });
    return result;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '42501') {
      throw new StepError(`cannot set up the state-store role ${role}: ${e.message}`, {
        fix: 'connect as a user with CREATEROLE that can SET ROLE to it (the deployed learnflow_user is a superuser); check the user in --pg-url',
        cause: err,
      });
    }
    throw err;
  }
}

/** What `ensureStateStoreRole` reports, summarised for a log line. */
export function summarise(result: RoleSetupResult): string {
  const changed = Object.entries(result).filter(([, v]) => v !== 'unchanged');
  return changed.length ? changed.map(([k, v]) => `${k} ${v}`).join(', ') : 'role, password, schema and search_path unchanged';
}

/** Whether the server serves SSL now (not whether a certificate Secret exists: it outlives deploy-postgres --no-tls). */
export async function serverSsl(client: pg.Client): Promise<boolean> {
  return (await client.query<{ ssl: string }>("SELECT current_setting('ssl') AS ssl")).rows[0]?.ssl === 'on';
}
