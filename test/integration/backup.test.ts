// backup-postgres and restore-postgres against REAL PostgreSQL 15 servers (--pg-url --no-cluster: the local pg_dump /
// psql of the same major). A stack as the kit makes it (the migrations, each service's login and database, the Dapr
// state store's login and schema, rows everywhere) is backed up and restored into a fresh, empty server: every
// database, table, row and login comes back. Then damage, a restore over it, and the refusals.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { ensureServiceDatabase, parseServiceDatabases } from '../../scripts/lib/components/postgres/service-databases.js';
import { ensureStateStoreRole } from '../../scripts/lib/components/dapr/statestore.js';
import { connectPg, tryLogin } from '../../scripts/lib/components/shared/postgres-client.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { queryOnce, startPostgres, type PostgresInstance } from '../support/postgres.js';

const PG_BIN = process.env.LEARNFLOW_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** pg_dump and psql of the server's major first on PATH (Debian's /usr/bin wrappers pick a version themselves). */
const env = { PATH: `${PG_BIN}:${process.env.PATH ?? ''}` };

let server: PostgresInstance;
let url: string;
let dir: string;

const services = parseServiceDatabases(
  'services:\n  - { name: student-api, database: students_db }\n  - { name: tutor-api, database: tutors_db }\n  - { name: matching-service, database: matching_db }\n',
  'test',
);
const passwords: Record<string, string> = Object.fromEntries(services.map((s, i) => [s.role, `svc${i}-${'Ab9_'.repeat(6)}`]));
const DAPR_PASSWORD = 'dapr-Zx8_Zx8_Zx8_Zx8_Zx8_';

const query = <T extends pg.QueryResultRow>(sql: string, target = url): Promise<T[]> => queryOnce<T>(target, sql);

const on = (base: string, db: string) => base.replace(/\/[^/?]*$/, `/${db}`);
const as = (base: string, user: string, password: string, db: string) => {
  const u = new URL(on(base, db));
  u.username = user;
  u.password = password;
  return u.toString();
};

/** Every table outside the system schemas: its row count and a digest of its rows in a stable order. */
async function snapshot(target = url): Promise<Record<string, string>> {
  const tables = await query<{ t: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    target,
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await query<{ n: string; digest: string | null }>(
      `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS digest FROM ${t} x`,
      target,
    );
    out[t] = `${row!.n}:${row!.digest}`;
  }
  return out;
}

/** Every database the kit manages on a server, each table's rows. */
async function stackSnapshot(base: string): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = { learnflow: await snapshot(base) };
  for (const s of services) out[s.database] = await snapshot(on(base, s.database));
  return out;
}

const backup = (...args: string[]) => runKit('scripts/backup-postgres.mts', ['--no-cluster', '--pg-url', url, ...args], { env });
const restore = (...args: string[]) => runKit('scripts/restore-postgres.mts', ['--no-cluster', '--pg-url', url, ...args], { env });

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase('learnflow');
  dir = mkdtempSync(path.join(tmpdir(), 'learnflow-backup-'));
  const deploy = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url], { env });
  if (deploy.code !== 0) throw new Error(`deploy-postgres failed:\n${deploy.stderr}`);
  // What deploy-postgres and install-dapr make on a cluster: each service's login and database, the state store's.
  const admin = await connectPg(url);
  try {
    for (const s of services) await ensureServiceDatabase(admin, s, passwords[s.role]!);
    await ensureStateStoreRole(admin, { password: DAPR_PASSWORD });
  } finally {
    await admin.end();
  }
  // Rows the apps wrote, as the apps: each service in its own database (in a schema of its own: the kit's logins are
  // NOINHERIT, so they do not get pg_database_owner's CREATE on public), Dapr in its schema.
  for (const [i, s] of services.entries()) {
    await query(
      `CREATE SCHEMA app; CREATE TABLE app.items (id serial PRIMARY KEY, note text NOT NULL); INSERT INTO app.items (note) SELECT '${s.service} ' || g FROM generate_series(1, ${10 + i}) g`,
      as(url, s.role, passwords[s.role]!, s.database),
    );
  }
  await query(
    `CREATE TABLE state (key text PRIMARY KEY, value jsonb); INSERT INTO state VALUES ('session||1', '{"topic": "loops"}'), ('session||2', '{"topic": "lists"}')`,
    as(url, 'dapr_state', DAPR_PASSWORD, 'learnflow'),
  );
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a whole stack: backup, then restore into a fresh, empty server', () => {
  let fresh: PostgresInstance;
  afterAll(async () => {
    await fresh?.stop();
  });

  it('brings back every database, table, row and login', async () => {
    const before = await stackSnapshot(url);
    expect(Object.keys(before.learnflow!)).toEqual(expect.arrayContaining(['public.users', 'public.learnflow_migrations', 'dapr.state']));
    for (const s of services) expect(before[s.database]).toEqual({ 'app.items': expect.stringMatching(/^1\d:/) });

    const out = path.join(dir, 'stack');
    const b = await backup('--output', out, '--json');
    expect(b.stderr).not.toMatch(STACK_TRACE);
    expect(b.code, b.stderr).toBe(0);
    // No password anywhere in what the run printed: the server's, the services', the state store's.
    for (const pw of [server.password, DAPR_PASSWORD, ...Object.values(passwords)]) expect(b.stdout + b.stderr).not.toContain(pw);
    const report = JSON.parse(b.stdout) as Report;
    expect(report.data).toMatchObject({ roles: ['dapr_state', 'matching_service', 'student_api', 'tutor_api'] });

    // The folder: 700, every file 600; a manifest that says what is in it.
    expect(statSync(out).mode & 0o777).toBe(0o700);
    const files = [...readdirSync(out).filter((f) => f !== 'db'), ...readdirSync(path.join(out, 'db')).map((f) => `db/${f}`)].sort();
    expect(files).toEqual(['db/learnflow.sql', 'db/matching_db.sql', 'db/students_db.sql', 'db/tutors_db.sql', 'manifest.json', 'roles.json', 'topics.yaml']);
    for (const f of files) expect(statSync(path.join(out, f)).mode & 0o777, f).toBe(0o600);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'learnflow-stack-backup/1',
      serverVersion: expect.stringMatching(/^15\./),
      databases: [
        { name: 'learnflow', kind: 'main', file: 'db/learnflow.sql' },
        { name: 'matching_db', kind: 'service', owner: 'matching_service' },
        { name: 'students_db', kind: 'service', owner: 'student_api' },
        { name: 'tutors_db', kind: 'service', owner: 'tutor_api' },
      ],
      roles: ['dapr_state', 'matching_service', 'student_api', 'tutor_api'],
      superusers: ['postgres'],
      schemas: [{ database: 'learnflow', name: 'dapr', owner: 'dapr_state' }],
      secretPasswords: false,
      topics: { file: 'topics.yaml', topics: expect.arrayContaining([expect.objectContaining({ name: expect.any(String), partitions: expect.any(Number) })]) },
    });
    expect(manifest.databases[0].tables).toBeGreaterThanOrEqual(10);
    expect(readFileSync(path.join(out, 'topics.yaml'), 'utf8')).toBe(readFileSync('k8s/kafka/topics.yaml', 'utf8'));
    // --no-cluster: no Secret read, so the roles file holds the verifiers, not the passwords.
    const roles = JSON.parse(readFileSync(path.join(out, 'roles.json'), 'utf8')) as { name: string; verifier: string; password?: string }[];
    for (const r of roles) {
      expect(r.verifier, r.name).toMatch(/^SCRAM-SHA-256\$/);
      expect(r.password).toBeUndefined();
    }

    // A fresh server: nothing but an empty learnflow database.
    fresh = await startPostgres();
    const freshUrl = await fresh.createDatabase('learnflow');
    const r = await runKit('scripts/restore-postgres.mts', ['--no-cluster', '--pg-url', freshUrl, '--input', out, '--json'], { env });
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    for (const pw of [fresh.password, DAPR_PASSWORD, ...Object.values(passwords)]) expect(r.stdout + r.stderr).not.toContain(pw);
    const rr = JSON.parse(r.stdout) as Report;
    expect(rr.steps[0]!.changes).toMatchObject({
      'role dapr_state': 'created',
      'role student_api': 'created',
      'database learnflow': 'restored',
      'database students_db': 'restored',
    });
    expect(rr.steps[0]!.checks.every((c) => c.ok)).toBe(true);
    expect(rr.steps[0]!.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['login student_api', 'login dapr_state', 'database tutors_db']));

    // Every database, table and row.
    expect(await stackSnapshot(freshUrl)).toEqual(before);
    // Every login, with its password, into its own database only; the state store's into its schema.
    const admin = await connectPg(freshUrl);
    try {
      for (const s of services) {
        expect(await tryLogin(admin, s.role, passwords[s.role]!, s.database), s.role).toEqual({ ok: true });
        for (const o of services.filter((x) => x !== s))
          expect(await tryLogin(admin, s.role, passwords[s.role]!, o.database), `${s.role} -> ${o.database}`).toMatchObject({ ok: false, code: '42501' });
        const [row] = await query<{ n: number }>('SELECT count(*)::int AS n FROM app.items', as(freshUrl, s.role, passwords[s.role]!, s.database));
        expect(row!.n).toBeGreaterThanOrEqual(10);
      }
      const rows = await query<{ key: string }>('SELECT key FROM state ORDER BY 1', as(freshUrl, 'dapr_state', DAPR_PASSWORD, 'learnflow'));
      expect(rows.map((x) => x.key)).toEqual(['session||1', 'session||2']);
      const [attrs] = await query<{ rolsuper: boolean; rolconfig: string[]; comment: string }>(
        "SELECT rolsuper, rolconfig, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = 'dapr_state'",
        freshUrl,
      );
      expect(attrs).toEqual({ rolsuper: false, rolconfig: ['search_path=dapr'], comment: null });
    } finally {
      await admin.end();
    }

    // The kit sees its schema as applied there: a deploy changes nothing.
    const redeploy = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', freshUrl, '--json'], { env });
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(Object.values((JSON.parse(redeploy.stdout) as Report).steps[0]!.changes!).every((c) => c === 'unchanged')).toBe(true);

    // Again over what is there now: refused without --force, then the same result.
    const refused = await runKit('scripts/restore-postgres.mts', ['--no-cluster', '--pg-url', freshUrl, '--input', out], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to overwrite learnflow \(\d+ tables\), matching_db \(1 tables\)/);
    const again = await runKit('scripts/restore-postgres.mts', ['--no-cluster', '--pg-url', freshUrl, '--input', out, '--force', '--yes'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(await stackSnapshot(freshUrl)).toEqual(before);
  });
});

/**
 * A stand-in kubectl: `exec ... -- sh -c SCRIPT` runs SCRIPT here, with the container's environment pointing at a
 * real server (so the kit's in-pod pg_dump / psql lines run for real); the pod, Secrets and apply are answered from
 * files. Every call is logged, stdin of apply kept.
 */
function fakeKubectl(at: string): {
  env: (o: { port: number; password: string; secrets: Record<string, Record<string, string>> }) => Record<string, string>;
  calls: () => string[][];
  applied: () => string;
} {
  mkdirSync(at, { recursive: true });
  const script = `#!/usr/bin/env node
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
let args = process.argv.slice(2);
if (args[0] === '--context') args = args.slice(2);
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify(args) + '\\n');
const out = (x) => process.stdout.write(typeof x === 'string' ? x + '\\n' : JSON.stringify(x));
if (args[0] === 'version') out({ clientVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' }, serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } });
else if (args[0] === 'config') out(args[1] === 'view' ? 'kind-kind https://127.0.0.1:6443' : 'kind-kind');
else if (args[0] === 'get' && args[1] === 'pod') out({ items: [{ metadata: { name: 'postgresql-0' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }] });
else if (args[0] === 'get' && args[1] === 'secret') {
  const all = JSON.parse(fs.readFileSync(process.env.FAKE_SECRETS, 'utf8'));
  const names = args.slice(2, args.indexOf('-n'));
  out({ items: names.filter((n) => all[n]).map((n) => ({ metadata: { name: n }, data: Object.fromEntries(Object.entries(all[n]).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) })) });
} else if (args[0] === 'get') out('');
else if (args[0] === 'apply') { fs.appendFileSync(process.env.FAKE_APPLIED, fs.readFileSync(0, 'utf8')); out(''); }
else if (args[0] === 'exec') {
  const r = spawnSync('sh', ['-c', args[args.length - 1]], {
    stdio: 'inherit',
    env: { ...process.env, POSTGRES_USER: 'postgres', POSTGRES_DB: 'learnflow', POSTGRES_PASSWORD: process.env.FAKE_PG_PASSWORD, PGHOST: '127.0.0.1', PGPORT: process.env.FAKE_PG_PORT },
  });
  process.exit(r.status ?? 1);
} else { process.stderr.write('fake kubectl: unexpected ' + args.join(' ') + '\\n'); process.exit(64); }
`;
  writeFileSync(path.join(at, 'kubectl'), script, { mode: 0o755 });
  const log = path.join(at, 'calls.log');
  const applied = path.join(at, 'applied.json');
  return {
    env: (o) => {
      writeFileSync(path.join(at, 'secrets.json'), JSON.stringify(o.secrets));
      writeFileSync(log, '');
      writeFileSync(applied, '');
      return {
        PATH: `${at}:${env.PATH}`,
        FAKE_LOG: log,
        FAKE_APPLIED: applied,
        FAKE_SECRETS: path.join(at, 'secrets.json'),
        FAKE_PG_PORT: String(o.port),
        FAKE_PG_PASSWORD: o.password,
        KUBECONFIG: path.join(at, 'kubeconfig'),
      };
    },
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
    applied: () => readFileSync(applied, 'utf8'),
  };
}

describe('the same through kubectl exec (the default): the in-pod pg_dump and psql lines, run for real', () => {
  let fresh: PostgresInstance;
  afterAll(async () => {
    await fresh?.stop();
  });

  it("backs up with the Secrets' passwords; restores with the target's Secrets winning, and makes the one it lacks", async () => {
    const kubectl = fakeKubectl(path.join(dir, 'fake-kubectl'));
    const before = await stackSnapshot(url);
    const out = path.join(dir, 'through-pod');
    const sourceSecrets = {
      'student-api-db': { password: passwords.student_api! },
      'tutor-api-db': { password: passwords.tutor_api! },
      'matching-service-db': { password: passwords.matching_service! },
      'dapr-statestore': {
        connectionString: `host=postgresql.learnflow.svc.cluster.local port=5432 user=dapr_state password=${DAPR_PASSWORD} dbname=learnflow sslmode=prefer`,
      },
    };
    const b = await runKit('scripts/backup-postgres.mts', ['--output', out, '--json'], {
      env: kubectl.env({ port: server.port, password: server.password, secrets: sourceSecrets }),
    });
    expect(b.stderr).not.toMatch(STACK_TRACE);
    expect(b.code, b.stderr).toBe(0);
    expect(
      kubectl
        .calls()
        .filter((c) => c[0] === 'exec')
        .map((c) => c[c.length - 1]!.replace(/^.*exec (pg_dump|psql)/, '$1')),
    ).toEqual([
      'psql -X -At -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f -',
      'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --clean --if-exists --no-password',
      'pg_dump -U "$POSTGRES_USER" -d matching_db --clean --if-exists --no-password',
      'pg_dump -U "$POSTGRES_USER" -d students_db --clean --if-exists --no-password',
      'pg_dump -U "$POSTGRES_USER" -d tutors_db --clean --if-exists --no-password',
    ]);
    for (const pw of [server.password, DAPR_PASSWORD, ...Object.values(passwords)])
      expect(b.stdout + b.stderr + JSON.stringify(kubectl.calls())).not.toContain(pw);
    const roles = JSON.parse(readFileSync(path.join(out, 'roles.json'), 'utf8')) as { name: string; password?: string }[];
    expect(Object.fromEntries(roles.map((r) => [r.name, r.password]))).toEqual({ dapr_state: DAPR_PASSWORD, ...passwords });
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))).toMatchObject({ secretPasswords: true });

    // The target: a fresh server whose namespace has its own passwords for student-api and the state store, and no
    // Secret for tutor-api nor matching-service.
    fresh = await startPostgres();
    await fresh.createDatabase('learnflow');
    const targetSecrets = {
      'student-api-db': { password: 'student-new-Qw3_Qw3_Qw3_Qw3' },
      'dapr-statestore': {
        connectionString:
          'host=postgresql.learnflow.svc.cluster.local port=5432 user=dapr_state password=dapr-new-Er4_Er4_Er4_Er4 dbname=learnflow sslmode=prefer',
      },
    };
    const r = await runKit('scripts/restore-postgres.mts', ['--input', out, '--json'], {
      env: kubectl.env({ port: fresh.port, password: fresh.password, secrets: targetSecrets }),
    });
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Report).steps[0]!.checks.filter((c) => !c.ok)).toEqual([]);
    const printed = r.stdout + r.stderr + JSON.stringify(kubectl.calls());
    for (const pw of ['student-new-Qw3_Qw3_Qw3_Qw3', 'dapr-new-Er4_Er4_Er4_Er4', DAPR_PASSWORD, ...Object.values(passwords)]) expect(printed).not.toContain(pw);
    expect(await stackSnapshot(fresh.url.replace(/\/postgres$/, '/learnflow'))).toEqual(before);

    const admin = await connectPg(fresh.url);
    try {
      expect(await tryLogin(admin, 'student_api', 'student-new-Qw3_Qw3_Qw3_Qw3', 'students_db')).toEqual({ ok: true });
      expect(await tryLogin(admin, 'student_api', passwords.student_api!, 'students_db')).toMatchObject({ ok: false, code: '28P01' });
      expect(await tryLogin(admin, 'tutor_api', passwords.tutor_api!, 'tutors_db')).toEqual({ ok: true });
      expect(await tryLogin(admin, 'matching_service', passwords.matching_service!, 'matching_db')).toEqual({ ok: true });
      expect(await tryLogin(admin, 'dapr_state', 'dapr-new-Er4_Er4_Er4_Er4', 'learnflow')).toEqual({ ok: true });
    } finally {
      await admin.end();
    }
    // The Secrets the target lacked, made from the backup's passwords (through kubectl apply's stdin).
    const made = kubectl
      .applied()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { metadata: { name: string }; stringData: Record<string, string> });
    expect(made.map((m) => [m.metadata.name, m.stringData.password, m.stringData.database])).toEqual([
      ['matching-service-db', passwords.matching_service, 'matching_db'],
      ['tutor-api-db', passwords.tutor_api, 'tutors_db'],
    ]);
  });
});

describe('backup-postgres / restore-postgres round trip on a real PostgreSQL', () => {
  it('backs up, survives damage, restores, and the data is equal', async () => {
    // Rows a user wrote after the migrations are part of the backup.
    await query(
      `INSERT INTO users (email, password_hash, display_name, role) VALUES ('kept@example.com', '$2b$12$abcdefghijklmnopqrstuuJ0J1mX8Qe2mV5k7QhLhC5y6Q0c8Q9Wq', 'Kept', 'student')`,
    );
    const before = await snapshot();
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(['public.users', 'public.topics', 'public.chat_history', 'public.learnflow_migrations', 'dapr.state']),
    );

    const file = path.join(dir, 'damage');
    const b = await backup('--output', file, '--json', '--verbose');
    expect(b.stderr).not.toMatch(STACK_TRACE);
    expect(b.code, b.stderr).toBe(0);
    const report = JSON.parse(b.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(report.steps[0]!.checks[0]!.detail).toMatch(/tables/);
    const text = readFileSync(path.join(file, 'db/learnflow.sql'), 'utf8');
    expect(text).toContain('-- PostgreSQL database dump complete');
    expect(text).toMatch(/^DROP TABLE IF EXISTS public\.users/m);
    expect(statSync(path.join(file, 'db/learnflow.sql')).mode & 0o777).toBe(0o600);
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
    expect(refused.stderr).toMatch(/refusing to overwrite learnflow \(\d+ tables\).* which hold tables/);
    expect(refused.stderr).toMatch(/--force/);
    const noTty = await restore('--input', file, '--force');
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/no terminal to ask/);
    expect(noTty.stderr).toMatch(/--yes/);
    expect((await query(`SELECT count(*)::int AS n FROM topics WHERE slug = 'stray'`))[0]).toEqual({ n: 1 });

    const r = await restore('--input', file, '--force', '--yes', '--json');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Report).steps[0]!.changes).toMatchObject({ 'database learnflow': 'overwritten', 'role student_api': 'configured' });
    expect(r.stderr + r.stdout).not.toContain(server.password);
    expect(await snapshot()).toEqual(before);

    // And the kit still sees its schema as applied: a re-deploy changes nothing.
    const redeploy = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url, '--json'], { env });
    expect(redeploy.code).toBe(0);
    expect(Object.values((JSON.parse(redeploy.stdout) as Report).steps[0]!.changes!).every((c) => c === 'unchanged')).toBe(true);
  });

  it("restores an older kit's single-file backup (the learnflow database only) into an empty database without asking", async () => {
    const folder = path.join(dir, 'for-copy');
    expect((await backup('--output', folder)).code).toBe(0);
    const file = path.join(dir, 'for-copy.sql');
    copyFileSync(path.join(folder, 'db/learnflow.sql'), file);
    const copyUrl = await server.createDatabase('learnflow_copy');
    const r = await runKit('scripts/restore-postgres.mts', ['--no-cluster', '--pg-url', copyUrl, '--input', file], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/single-file backup .* learnflow database only/);
    expect(await snapshot(copyUrl)).toEqual(await snapshot());
  });

  it('refuses a file that is not a complete backup, and changes nothing when psql fails half way', async () => {
    const notDump = path.join(dir, 'notes.sql');
    writeFileSync(notDump, 'SELECT 1;\n');
    const r1 = await restore('--input', notDump, '--force', '--yes');
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/not a plain-SQL pg_dump backup/);

    const good = path.join(dir, 'good');
    expect((await backup('--output', good)).code).toBe(0);
    const copyOf = (name: string, learnflowSql: (text: string) => string) => {
      const to = path.join(dir, name);
      mkdirSync(path.join(to, 'db'), { recursive: true });
      for (const f of ['manifest.json', 'roles.json', 'topics.yaml', ...readdirSync(path.join(good, 'db')).map((x) => `db/${x}`)])
        writeFileSync(path.join(to, f), f === 'db/learnflow.sql' ? learnflowSql(readFileSync(path.join(good, f), 'utf8')) : readFileSync(path.join(good, f)));
      return to;
    };
    const truncated = copyOf('truncated', (t) => t.replace('-- PostgreSQL database dump complete', ''));
    const r2 = await restore('--input', truncated, '--force', '--yes');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/db\/learnflow\.sql is not a complete pg_dump/);

    // A database whose restore fails in the middle: its single transaction rolls it back.
    const before = await stackSnapshot(url);
    const broken = copyOf('broken', (t) => t.replace(/^(CREATE TABLE public\.users)/m, 'THIS IS NOT SQL;\n$1'));
    const r3 = await restore('--input', broken, '--force', '--yes');
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/database learnflow: its transaction was rolled back, it is unchanged/);
    expect(r3.stderr).not.toMatch(STACK_TRACE);
    expect(await stackSnapshot(url)).toEqual(before);

    // A database file missing from the folder: refused before anything is contacted.
    rmSync(path.join(good, 'db/tutors_db.sql'));
    const partial = await restore('--input', good, '--force', '--yes');
    expect(partial.code).toBe(2);
    expect(partial.stderr).toMatch(/lacks db\/tutors_db\.sql/);
  });

  it('says what is wrong when PostgreSQL is unreachable or the tools are missing', async () => {
    const dead = `postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:1/learnflow`;
    const r = await runKit('scripts/backup-postgres.mts', ['--no-cluster', '--pg-url', dead, '--output', path.join(dir, 'never')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the connection/);
    expect(r.stderr).toMatch(/troubleshooting\.md#postgres-unreachable/);
    expect(r.stderr).not.toContain(server.password);
    expect(existsSync(path.join(dir, 'never'))).toBe(false);
    expect(existsSync(path.join(dir, '.never.partial'))).toBe(false);

    // --pg-url without --no-cluster reads the Secrets in the cluster: none here is exit 3, and the fix names --no-cluster.
    const noCluster = await runKit('scripts/backup-postgres.mts', ['--pg-url', url, '--output', path.join(dir, 'never3')], {
      env: { ...env, KUBECONFIG: path.join(dir, 'no-kubeconfig') },
    });
    expect(noCluster.code, noCluster.stderr).toBe(3);
    expect(noCluster.stderr).toMatch(/add --no-cluster/);
    expect(existsSync(path.join(dir, 'never3'))).toBe(false);

    // A PATH with a shell (the kit's exec runs through it) and nothing else.
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(execFileSync('sh', ['-c', 'command -v bash']).toString().trim(), path.join(bin, 'bash'));
    const noTools = await runKit('scripts/backup-postgres.mts', ['--no-cluster', '--pg-url', url, '--output', path.join(dir, 'never2')], {
      env: { PATH: bin },
    });
    expect(noTools.code).toBe(3);
    expect(noTools.stderr).toMatch(/pg_dump is not installed/);
    expect(noTools.stderr).toMatch(/drop --pg-url/);
    expect(existsSync(path.join(dir, '.never2.partial'))).toBe(false);
  });
});
