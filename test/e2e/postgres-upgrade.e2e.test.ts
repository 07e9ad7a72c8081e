// A PostgreSQL major upgrade on the REAL node (components/postgres/upgrade.ts), with the kit's own entry scripts:
// a stack deployed on the old major (the stand-in postgres:15.x built from Debian bookworm's postgresql-15, pinned
// for that one run with LEARNFLOW_VERSIONS_FILE), data written in every database, then deploy-postgres
// at the kit's pin. First a restore made to fail (test-only hook): the old version keeps running with its volume
// and data, exit 1 with the fix. Then the upgrade itself: row checksums of every database identical, the services
// log in with the passwords of their Secrets, verify-postgres green, the old claim kept and marked.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/lib/core/report.js';
import { readVersions, VERSIONS_FILE_ENV } from '../../scripts/lib/core/repo.js';
import { FAIL_RESTORE_ENV } from '../../scripts/lib/components/postgres/upgrade.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { steerNamespaceToRealNode } from '../support/real-node.js';
import { sharedCluster } from '../support/shared-cluster.js';

const NS = 'pg-upgrade';
const NEW_TEMPLATE = `data-pg${readVersions().postgres.version.split('.')[0]}`;
const NEW_CLAIM = `${NEW_TEMPLATE}-postgresql-0`;
const MIN = 60_000;
const V = readVersions();
const SERVICES = [
  { role: 'student_api', db: 'students_db', secret: 'student-api-db' },
  { role: 'tutor_api', db: 'tutors_db', secret: 'tutor-api-db' },
  { role: 'matching_service', db: 'matching_db', secret: 'matching-service-db' },
];

const cluster = sharedCluster({ name: 'e2e-pg-upgrade', realNode: true }, (c) => steerNamespaceToRealNode(c, NS));

// No lock: the kit's PostgreSQL port-forwards pick free local ports (only Kafka's advertised ports are fixed).

const kit = (script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 6 * MIN) =>
  runKit(script, ['--context', cluster().context, '--namespace', NS, ...args], { env: { ...cluster().env, ...env }, timeoutMs });
// -n first: after `exec ... --` it would go to the command in the pod.
const kubectl = (args: string[], input?: string) => cluster().kubectl(['-n', NS, ...args], { input, timeoutMs: 60_000 });

/** psql as the superuser over the pod's socket (what a person does with kubectl exec). */
const psql = (sql: string, db = '"$POSTGRES_DB"', pod = 'postgresql-0') =>
  kubectl(['exec', '-i', pod, '-c', 'postgresql', '--', 'sh', '-c', `exec psql -X -At -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d ${db} -f -`], sql);

/** database -> table -> "rows md5", for every table of every database (computed here, not by the kit). */
async function checksums(): Promise<Record<string, Record<string, string>>> {
  const dbs = (await psql(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1`)).trim().split('\n');
  const out: Record<string, Record<string, string>> = {};
  for (const db of dbs) {
    const rows = await psql(
      `SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text COLLATE "C"), '''')) FROM %I.%I t', n.nspname || '.' || c.relname, n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1 \\gexec
`,
      db,
    );
    out[db] = Object.fromEntries(
      rows
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('|'))
        .map(([t, n, md5]) => [t!, `${n} ${md5}`]),
    );
  }
  return out;
}

const secret = async (name: string) => Buffer.from(await kubectl(['get', 'secret', name, '-o', 'jsonpath={.data.password}']), 'base64').toString();

/** Each service logs in to its database over TCP (scram-sha-256) with the password of its Secret. */
async function serviceLogins(): Promise<string[]> {
  const out: string[] = [];
  for (const s of SERVICES) {
    const script = `IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -X -At -h 127.0.0.1 -U ${s.role} -d ${s.db} -c 'SELECT current_user || chr(64) || current_database()'`;
    out.push((await kubectl(['exec', '-i', 'postgresql-0', '-c', 'postgresql', '--', 'sh', '-c', script], `${await secret(s.secret)}\n`)).trim());
  }
  return out;
}

const sts = async () =>
  JSON.parse(await kubectl(['get', 'statefulset', 'postgresql', '-o', 'json'])) as {
    spec: { template: { spec: { containers: { image: string }[] } }; volumeClaimTemplates: { metadata: { name: string } }[] };
  };
const claims = async () =>
  (
    JSON.parse(await kubectl(['get', 'pvc', '-o', 'json'])) as {
      items: { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; status: { phase: string } }[];
    }
  ).items;

let before: Record<string, Record<string, string>>;
const fromImage = () => cluster().realNode.images.postgresFrom;
const fromVersion = () => fromImage().slice(fromImage().lastIndexOf(':') + 1);
/** The kit pointed at the old major for one run: a versions file laid over k8s/versions.json. */
const OLD = () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lf-pg-from-')), 'versions.json');
  writeFileSync(file, JSON.stringify({ postgres: { version: fromVersion() } }));
  return { [VERSIONS_FILE_ENV]: file };
};

describe('a PostgreSQL major upgrade on the real node', () => {
  it('deploys the old major with the kit and writes data in every database', { timeout: 8 * MIN }, async () => {
    expect(fromVersion()).toMatch(/^15\.\d+$/);
    expect(Number(V.postgres.version.split('.')[0])).toBeGreaterThan(15);
    const r = await kit('scripts/deploy-postgres.mts', [], OLD());
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    expect((await sts()).spec.template.spec.containers[0]!.image).toBe(`postgres:${fromVersion()}`);
    expect(await psql('SHOW server_version_num')).toMatch(/^15\d{4}/);
    for (const s of SERVICES)
      await psql(
        `CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text, at timestamptz, score float8);
         ALTER TABLE notes OWNER TO ${s.role};
         INSERT INTO notes SELECT i, md5(i::text) || ' é ✓', timestamptz '2026-01-01 00:00+00' + i * interval '1 minute', i / 7.0 FROM generate_series(1, 500) i;`,
        s.db,
      );
    // learnflow holds the seed (users, topics, ...) and a table of our own with text that is not ASCII.
    await psql(`CREATE TABLE upgrade_probe AS SELECT i, repeat('Grüße, 学习 ', i % 50) AS body FROM generate_series(1, 2000) i`);
    before = await checksums();
    expect(Object.keys(before).sort()).toEqual(['learnflow', 'matching_db', 'postgres', 'students_db', 'tutors_db']);
    for (const s of SERVICES) expect(before[s.db]!['public.notes']).toMatch(/^500 [0-9a-f]{32}$/);
    expect(Object.keys(before.learnflow!).length).toBeGreaterThanOrEqual(9);
  });

  it('--dry-run and --diff show the upgrade before anything changes', { timeout: 3 * MIN }, async () => {
    const dry = await kit('scripts/deploy-postgres.mts', ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain(`with the pin ${V.postgres.version}: a minor version rolls; from an older major, a major upgrade with the data kept`);
    const diff = await kit('scripts/deploy-postgres.mts', ['--diff']);
    expect(diff.code, diff.stderr.slice(-3000)).toBe(1);
    expect(`${diff.stdout}\n${diff.stderr}`).toContain(
      `postgres ${fromVersion()} -> ${V.postgres.version}: major upgrade, data kept: dump, new data directory, restore, verify; the old volume kept until you release it`,
    );
    expect((await sts()).spec.template.spec.containers[0]!.image).toBe(`postgres:${fromVersion()}`);
  });

  it('a restore that fails leaves the old version running with its volume and data: exit 1 with the fix', { timeout: 8 * MIN }, async () => {
    const r = await kit('scripts/deploy-postgres.mts', [], { [FAIL_RESTORE_ENV]: '1' });
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-4000)).toBe(1);
    expect(r.stderr).toContain(`the upgrade ${fromVersion()} -> ${V.postgres.version} failed before the switch`);
    expect(r.stderr).toContain(`PostgreSQL ${fromVersion()} still runs on pvc/data-postgresql-0, and pvc/${NEW_CLAIM} was removed`);
    expect(r.stderr).toContain('docs/troubleshooting.md#postgres-major-upgrade');
    expect((await sts()).spec.template.spec.containers[0]!.image).toBe(`postgres:${fromVersion()}`);
    expect((await claims()).map((c) => c.metadata.name)).toEqual(['data-postgresql-0']);
    expect(await kubectl(['get', 'pod', 'postgresql-upgrade', '--ignore-not-found', '-o', 'name'])).toBe('');
    expect(await psql('SHOW server_version_num')).toMatch(/^15\d{4}/);
    expect(await checksums()).toEqual(before);
  });

  it('upgrades to the pinned major with every database and login kept; verify-postgres green; the old claim kept', { timeout: 10 * MIN }, async () => {
    const t0 = Date.now();
    const r = await kit('scripts/deploy-postgres.mts', ['--json']);
    const tookMs = Date.now() - t0;
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    const upgraded = /upgraded PostgreSQL .* in [^(]+\([^)]*\)/.exec(r.stderr)?.[0];
    expect(upgraded).toBeDefined();
    console.log(`postgres ${fromVersion()} -> ${V.postgres.version}: deploy-postgres took ${(tookMs / 1000).toFixed(1)} s; ${upgraded}`);
    const rep = JSON.parse(r.stdout) as Report;
    expect(Object.assign({}, ...rep.steps.map((st) => st.changes ?? {}))).toMatchObject({ 'postgres major': `${fromVersion()} -> ${V.postgres.version}` });

    const live = await sts();
    expect(live.spec.template.spec.containers[0]!.image).toBe(`postgres:${V.postgres.version}`);
    expect(live.spec.volumeClaimTemplates[0]!.metadata.name).toBe(NEW_TEMPLATE);
    expect(await psql('SHOW server_version_num')).toMatch(new RegExp(`^${V.postgres.version.split('.')[0]}\\d{4}`));
    expect(await checksums()).toEqual(before);
    expect(await serviceLogins()).toEqual(SERVICES.map((s) => `${s.role}@${s.db}`));

    const byName = Object.fromEntries((await claims()).map((c) => [c.metadata.name, c]));
    expect(Object.keys(byName).sort()).toEqual([NEW_CLAIM, 'data-postgresql-0'].sort());
    expect(byName['data-postgresql-0']!.status.phase).toBe('Bound');
    expect(byName['data-postgresql-0']!.metadata.annotations).toMatchObject({ 'learnflow.dev/replaced-by': NEW_CLAIM, 'learnflow.dev/postgres-major': '15' });
    expect(byName['data-postgresql-0']!.metadata.labels).toMatchObject({ 'learnflow.dev/postgres-data': 'replaced' });
    expect(byName[NEW_CLAIM]!.metadata.annotations).toMatchObject({ 'learnflow.dev/postgres-major': V.postgres.version.split('.')[0] });

    const v = await kit('scripts/verify-postgres.mts', ['--json']);
    expect(v.code, v.stderr.slice(-4000)).toBe(0);
    const failed = (JSON.parse(v.stdout) as Report).steps.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`));
    expect(failed).toEqual([]);
  });

  it('the next deploy keeps the new claim and changes nothing', { timeout: 4 * MIN }, async () => {
    const r = await kit('scripts/deploy-postgres.mts', ['--json']);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    expect(r.stderr).toContain(`PostgreSQL ${V.postgres.version.split('.')[0]} as the data is on`);
    const changed = (JSON.parse(r.stdout) as Report).steps.flatMap((st) => Object.entries(st.changes ?? {}).filter(([, v]) => v !== 'unchanged'));
    expect(changed).toEqual([]);
    expect(await checksums()).toEqual(before);
  });
});
