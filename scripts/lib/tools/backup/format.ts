// A stack backup: the folder backup-postgres.mts writes, mode 700 with files 600 (it holds data and passwords).
//   manifest.json     versions, time, namespace, each database (file, owner, tables), the roles, the topics' settings
//   roles.json        each role the kit made (dapr_state, the services' logins): attributes, settings, comment, the
//                     SCRAM verifier PostgreSQL stores and, when the backup read the cluster, its Secret's password
//   db/<name>.sql     one pg_dump --clean --if-exists per database
//   topics.yaml       the topic catalogue the stack was deployed with (deploy-kafka --topics takes it)

import { literal, ident } from '../../components/shared/postgres-roles.js';
import { SERVICE_ROLE_COMMENT } from '../../components/postgres/service-databases.js';
import { STATE_ROLE, STATESTORE_SECRET } from '../../components/dapr/settings.js';
import { parseConnectionString } from '../../components/dapr/statestore.js';
import type { CatalogueTopic } from '../../components/kafka/catalogue.js';

export const BACKUP_FORMAT = 'learnflow-stack-backup/1';
export const MANIFEST = 'manifest.json';
export const ROLES_FILE = 'roles.json';
export const TOPICS_FILE = 'topics.yaml';
export const DUMP_HEADER = '-- PostgreSQL database dump';
export const DUMP_COMPLETE = '-- PostgreSQL database dump complete';

export interface BackupDatabase {
  name: string;
  /** 'main': the LearnFlow database (--pg-url's, or the pod's POSTGRES_DB), restored into the target's own. */
  kind: 'main' | 'service';
  owner: string;
  /** Relative to the backup folder. */
  file: string;
  tables: number;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  kitVersion: string;
  serverVersion: string;
  createdAt: string;
  namespace: string;
  databases: BackupDatabase[];
  /** The roles in roles.json, by name. */
  roles: string[];
  /** Superusers on the source (learnflow_user, postgres): not in the backup, the target has its own. */
  superusers: string[];
  /** Schemas of the main database owned by a role in the backup (the Dapr state store's `dapr`). */
  schemas: { database: string; name: string; owner: string }[];
  /** Whether roles.json holds the passwords from the Secrets (the backup read the cluster). */
  secretPasswords: boolean;
  topics: { file: string; source: string; topics: Omit<CatalogueTopic, 'description'>[] } | null;
}

export interface BackupRole {
  name: string;
  login: boolean;
  inherit: boolean;
  createdb: boolean;
  createrole: boolean;
  replication: boolean;
  bypassrls: boolean;
  config: string[] | null;
  comment: string | null;
  /** pg_authid.rolpassword: a SCRAM verifier (or null: no password). */
  verifier: string | null;
  /** From the role's Secret in the source namespace, when the backup read it. */
  password?: string;
}

/** What the source server holds that the backup takes: read in one query, on the main database. */
export interface Inventory {
  server: string;
  database: string;
  owner: string;
  superusers: string[];
  roles: BackupRole[];
  databases: { name: string; owner: string }[];
  schemas: { name: string; owner: string }[];
}

/** The kit's roles: the state store's, and every role it made for a service (found by its comment). */
const KIT_ROLE = `(a.rolname = ${literal(STATE_ROLE)} OR shobj_description(a.oid, 'pg_authid') = ${literal(SERVICE_ROLE_COMMENT)})`;

/**
 * One row, one JSON text: runs through psql in the pod as well as through the pg client. pg_authid (the verifiers)
 * is readable by a superuser only, as the kit's learnflow_user is.
 */
export const INVENTORY_SQL = `SELECT json_build_object(
  'server', current_setting('server_version'),
  'database', current_database(),
  'owner', (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()),
  'superusers', (SELECT coalesce(json_agg(rolname ORDER BY rolname), '[]') FROM pg_roles WHERE rolsuper AND rolname !~ '^pg_'),
  'roles', (SELECT coalesce(json_agg(json_build_object('name', a.rolname, 'login', a.rolcanlogin, 'inherit', a.rolinherit,
      'createdb', a.rolcreatedb, 'createrole', a.rolcreaterole, 'replication', a.rolreplication, 'bypassrls', a.rolbypassrls,
      'config', (SELECT r.rolconfig FROM pg_roles r WHERE r.oid = a.oid), 'comment', shobj_description(a.oid, 'pg_authid'), 'verifier', a.rolpassword) ORDER BY a.rolname), '[]')
    FROM pg_authid a WHERE NOT a.rolsuper AND ${KIT_ROLE}),
  'databases', (SELECT coalesce(json_agg(json_build_object('name', d.datname, 'owner', a.rolname) ORDER BY d.datname), '[]')
    FROM pg_database d JOIN pg_authid a ON a.oid = d.datdba
    WHERE NOT a.rolsuper AND ${KIT_ROLE} AND d.datname <> current_database() AND NOT d.datistemplate),
  'schemas', (SELECT coalesce(json_agg(json_build_object('name', n.nspname, 'owner', a.rolname) ORDER BY n.nspname), '[]')
    FROM pg_namespace n JOIN pg_authid a ON a.oid = n.nspowner WHERE NOT a.rolsuper AND ${KIT_ROLE})
)::text AS json`;

/** In the target: which databases and roles exist already. */
export const TARGET_SQL = `SELECT json_build_object(
  'database', current_database(),
  'databases', (SELECT coalesce(json_agg(datname ORDER BY datname), '[]') FROM pg_database WHERE NOT datistemplate),
  'roles', (SELECT coalesce(json_agg(rolname ORDER BY rolname), '[]') FROM pg_roles)
)::text AS json`;

/** The Secret that holds a role's password in a stack's namespace, and how to read it. */
export interface RoleSecret {
  name: string;
  key: string;
  /** The service a service role belongs to (its Secret is the kit's service Secret). */
  service?: string;
  password(value: string): string | undefined;
}

export function secretOf(role: Pick<BackupRole, 'name' | 'comment'>): RoleSecret | undefined {
  if (role.name === STATE_ROLE) return { name: STATESTORE_SECRET, key: 'connectionString', password: (v) => parseConnectionString(v).password };
  if (role.comment === SERVICE_ROLE_COMMENT) {
    const service = role.name.replace(/_/g, '-');
    return { name: `${service}-db`, key: 'password', service, password: (v) => v };
  }
  return undefined;
}

/** A role setting as ALTER ROLE ... SET takes it: `search_path=a, b` -> search_path TO 'a', 'b'. */
function settingSql(entry: string): string {
  const at = entry.indexOf('=');
  const key = entry.slice(0, at);
  const value = entry.slice(at + 1);
  if (!/^[a-z_][a-z0-9_.]*$/.test(key)) throw new Error(`role setting '${key}' is not a setting name`);
  const values = key === 'search_path' ? value.split(',').map((v) => v.trim().replace(/^"(.*)"$/, '$1')) : [value];
  return `${key} TO ${values.map(literal).join(', ')}`;
}

/**
 * The SQL that makes the role as it was, with this verifier as its password (undefined: none), for one transaction:
 * created when the target lacks it, else altered to match (attributes, password, comment, settings).
 */
export function roleSql(role: BackupRole, verifier: string | undefined, exists: boolean): string {
  const r = ident(role.name);
  const attrs = [
    role.login ? 'LOGIN' : 'NOLOGIN',
    'NOSUPERUSER',
    role.inherit ? 'INHERIT' : 'NOINHERIT',
    role.createdb ? 'CREATEDB' : 'NOCREATEDB',
    role.createrole ? 'CREATEROLE' : 'NOCREATEROLE',
    role.replication ? 'REPLICATION' : 'NOREPLICATION',
    role.bypassrls ? 'BYPASSRLS' : 'NOBYPASSRLS',
    verifier === undefined ? 'PASSWORD NULL' : `PASSWORD ${literal(verifier)}`,
  ].join(' ');
  return [
    exists ? `ALTER ROLE ${r} WITH ${attrs};` : `CREATE ROLE ${r} WITH ${attrs};`,
    `COMMENT ON ROLE ${r} IS ${role.comment === null ? 'NULL' : literal(role.comment)};`,
    `ALTER ROLE ${r} RESET ALL;`,
    ...(role.config ?? []).map((c) => `ALTER ROLE ${r} SET ${settingSql(c)};`),
  ].join('\n');
}

/** A service database as the kit makes it: owned by its login, closed to PUBLIC. One statement each (no transaction). */
export function databaseSql(db: Pick<BackupDatabase, 'name' | 'owner'>, exists: boolean): string[] {
  const d = ident(db.name);
  const o = ident(db.owner);
  return [
    exists ? `ALTER DATABASE ${d} OWNER TO ${o}` : `CREATE DATABASE ${d} OWNER ${o}`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${d} FROM PUBLIC`,
    `GRANT CONNECT ON DATABASE ${d} TO ${o}`,
  ];
}

/** User tables outside the system schemas: a database with any is "not empty". */
export const COUNT_TABLES_SQL = `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

/** What a pg_dump file holds, from its text. */
export function inspectDump(text: string): { complete: boolean; tables: number; clean: boolean } {
  return {
    complete: text.includes(DUMP_COMPLETE),
    tables: (text.match(/^CREATE TABLE /gm) ?? []).length,
    clean: /^DROP (TABLE|SCHEMA|EXTENSION|SEQUENCE|INDEX|TYPE|FUNCTION|VIEW)/m.test(text),
  };
}
