// Backup of a whole stack, restore into a fresh one in another namespace, verify-all green there. Cluster side on a
// REAL API server with KWOK nodes (the Secrets the services read); data side on two REAL PostgreSQL servers (the
// services' databases and logins are server-wide, so each stack has its own) and one REAL Kafka broker.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';
import { queryOnce, startPostgres, type PostgresInstance } from '../support/postgres.js';
import { PINNED_DAPR_CHART } from '../support/paths.js';

const CHART = PINNED_DAPR_CHART;
const PG_BIN = process.env.LEARNFLOW_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const SRC = 'bk-source';
const DST = 'bk-copy';
const SERVICES = [
  { secret: 'student-api-db', role: 'student_api', database: 'students_db' },
  { secret: 'tutor-api-db', role: 'tutor_api', database: 'tutors_db' },
  { secret: 'matching-service-db', role: 'matching_service', database: 'matching_db' },
];

let cluster: KubeCluster;
let source: PostgresInstance;
let copy: PostgresInstance;
let kafka: KafkaInstance;
let sourceUrl: string;
let copyUrl: string;
let dir: string;

const kit = (script: string, args: string[]) =>
  runKit(script, ['--context', cluster.context, ...args], {
    env: { ...cluster.env, LEARNFLOW_DAPR_CHART: CHART, PATH: `${PG_BIN}:${cluster.env.PATH ?? process.env.PATH ?? ''}` },
    timeoutMs: 300_000,
  });
const secretValue = async (ns: string, name: string, key: string) =>
  Buffer.from(await cluster.kubectl(['get', 'secret', name, '-n', ns, '-o', `jsonpath={.data.${key}}`]), 'base64').toString();
const report = (stdout: string) => JSON.parse(stdout) as Report;

/** A URL to `db` on the server of `base`, as `user` when given. */
function urlOf(base: string, db: string, user?: { name: string; password: string }): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  if (user) {
    u.username = user.name;
    u.password = user.password;
  }
  return u.toString();
}

const query = <T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> => queryOnce<T>(url, sql);

/** Each database the kit manages: every table outside the system schemas, its row count and a digest of its rows. */
async function checksums(base: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const db of ['learnflow', ...SERVICES.map((s) => s.database)]) {
    const url = urlOf(base, db);
    const tables = await query<{ t: string }>(
      url,
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    for (const { t } of tables) {
      const [row] = await query<{ n: string; digest: string | null }>(
        url,
        `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS digest FROM ${t} x`,
      );
      out[`${db}:${t}`] = `${row!.n}:${row!.digest}`;
    }
  }
  return out;
}

beforeAll(async () => {
  // Each assigned as it comes, so afterAll stops those that started when another one failed.
  await Promise.all([
    startKubeCluster({ name: 'e2e-backup', nodeCpu: '16', nodeMemory: '32Gi' }).then((c) => (cluster = c)),
    startPostgres().then((p) => (source = p)),
    startPostgres().then((p) => (copy = p)),
    startKafka().then((k) => (kafka = k)),
  ]);
  sourceUrl = await source.createDatabase('learnflow');
  copyUrl = await copy.createDatabase('learnflow');
  dir = mkdtempSync(path.join(tmpdir(), 'learnflow-backup-e2e-'));
}, 240_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), source?.stop(), copy?.stop(), kafka?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('backup of a stack, restore into a fresh namespace', () => {
  it('brings every database and login back, and verify-all is green there', { timeout: 900_000 }, async () => {
    const brokers = ['--kafka-brokers', kafka.brokers.join(',')];
    const deploy = await kit('deploy-all.mts', ['-n', SRC, '--pg-url', sourceUrl, ...brokers]);
    expect(deploy.code, deploy.stderr.slice(-3000)).toBe(0);

    // What the apps wrote: each service in its own database as its own login (the password in its Secret), Dapr in
    // its schema as dapr_state.
    const passwords: Record<string, string> = {};
    for (const [i, s] of SERVICES.entries()) {
      passwords[s.role] = await secretValue(SRC, s.secret, 'password');
      await query(
        urlOf(sourceUrl, s.database, { name: s.role, password: passwords[s.role]! }),
        `CREATE SCHEMA app; CREATE TABLE app.items (id serial PRIMARY KEY, note text); INSERT INTO app.items (note) SELECT 'row ' || g FROM generate_series(1, ${5 + i}) g`,
      );
    }
    const daprPassword = /password=(\S+)/.exec(await secretValue(SRC, 'dapr-statestore', 'connectionString'))![1]!;
    await query(
      urlOf(sourceUrl, 'learnflow', { name: 'dapr_state', password: daprPassword }),
      `CREATE TABLE state (key text PRIMARY KEY, value jsonb); INSERT INTO state VALUES ('student-api||s1', '{"topic": 3}')`,
    );
    await query(
      sourceUrl,
      `INSERT INTO users (email, password_hash, display_name, role) VALUES ('kept@example.com', '$2b$12$abcdefghijklmnopqrstuuJ0J1mX8Qe2mV5k7QhLhC5y6Q0c8Q9Wq', 'Kept', 'student')`,
    );
    const before = await checksums(sourceUrl);

    const out = path.join(dir, 'stack');
    const b = await kit('scripts/backup-postgres.mts', ['-n', SRC, '--pg-url', sourceUrl, '--output', out, '--json']);
    expect(b.stderr).not.toMatch(STACK_TRACE);
    expect(b.code, b.stderr).toBe(0);
    for (const pw of [...Object.values(passwords), daprPassword]) expect(b.stdout + b.stderr).not.toContain(pw);
    const roles = JSON.parse(readFileSync(path.join(out, 'roles.json'), 'utf8')) as { name: string; password?: string }[];
    expect(Object.fromEntries(roles.map((r) => [r.name, r.password]))).toEqual({ dapr_state: daprPassword, ...passwords });

    // A fresh stack in another namespace, on its own PostgreSQL: its own new passwords. One Secret gone, as after a
    // partial clean-up: restore makes it from the backup.
    const fresh = await kit('deploy-all.mts', ['-n', DST, '--pg-url', copyUrl, ...brokers]);
    expect(fresh.code, fresh.stderr.slice(-3000)).toBe(0);
    const studentCopyPassword = await secretValue(DST, 'student-api-db', 'password');
    expect(studentCopyPassword).not.toBe(passwords.student_api);
    await cluster.kubectl(['delete', 'secret', 'tutor-api-db', '-n', DST]);

    const r = await kit('scripts/restore-postgres.mts', ['-n', DST, '--pg-url', copyUrl, '--input', out, '--force', '--yes', '--json']);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr).toBe(0);
    expect(report(r.stdout).steps[0]!.checks.filter((c) => !c.ok)).toEqual([]);
    for (const pw of [...Object.values(passwords), daprPassword, studentCopyPassword]) expect(r.stdout + r.stderr).not.toContain(pw);

    // Every database, table and row.
    expect(await checksums(copyUrl)).toEqual(before);
    // The logins: the copy's own Secrets where it had them, the backup's password in the Secret restore made.
    expect(await secretValue(DST, 'student-api-db', 'password')).toBe(studentCopyPassword);
    expect(await secretValue(DST, 'tutor-api-db', 'password')).toBe(passwords.tutor_api);
    for (const s of SERVICES) {
      const password = await secretValue(DST, s.secret, 'password');
      const rows = await query<{ n: number }>(urlOf(copyUrl, s.database, { name: s.role, password }), 'SELECT count(*)::int AS n FROM app.items');
      expect(rows[0]!.n, s.role).toBeGreaterThanOrEqual(5);
    }

    // And the kit's own checks, there.
    const verify = await kit('verify-all.mts', ['-n', DST, '--pg-url', copyUrl, ...brokers, '--skip-probe', '--json']);
    expect(verify.code, verify.stderr.slice(-3000)).toBe(0);
    expect(
      report(verify.stdout)
        .steps.flatMap((s) => s.checks)
        .filter((c) => !c.ok),
    ).toEqual([]);
    expect(
      report(verify.stdout)
        .steps.flatMap((s) => s.checks)
        .map((c) => c.name),
    ).toEqual(expect.arrayContaining(['service database students_db', 'service database tutors_db', 'service database matching_db']));
  });
});
