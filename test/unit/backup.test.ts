// backup-postgres / restore-postgres without --pg-url: pg_dump and psql run inside the pod through kubectl exec.
// A fake kubectl checks the command lines (no password anywhere in them), stdin, the files and their modes, which
// password each login gets on restore, and the refusals. A real PostgreSQL: test/integration/backup.test.ts.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupScript, restoreScript, splitPgUrl, timestampName, withDatabase } from '../../scripts/lib/tools/backup.js';
import { inspectDump, roleSql, type BackupRole } from '../../scripts/lib/tools/backup/format.js';
import { scramVerifier, verifierMatches } from '../../scripts/lib/components/shared/postgres-scram.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { main, type ScriptDef } from '../../scripts/lib/cli/run.js';
import { fakeClock, fakeExec, on, type FakeHandler } from '../support/fakes.js';

const DUMP = `--\n-- PostgreSQL database dump\n--\n\nDROP TABLE IF EXISTS public.users;\nCREATE TABLE public.users (id integer);\n\n--\n-- PostgreSQL database dump complete\n--\n`;

const readyPod = on(['get', 'pod', '-l', 'app.kubernetes.io/name=postgresql'], {
  stdout: JSON.stringify({ items: [{ metadata: { name: 'postgresql-0' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }] }),
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'learnflow-backup-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(def: ScriptDef, argv: string[], ...handlers: FakeHandler[]) {
  // A local cluster, so the target guard of a restore lets the run go ahead.
  const exec = fakeExec(
    ...handlers,
    on(['config', 'current-context'], { stdout: 'kind-kind\n' }),
    on(['version', '-o', 'json'], { stdout: JSON.stringify({ serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } }) }),
  );
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(def, [...argv, '--json'], {}, { stdout: (t) => out.push(t), stderr: (l) => err.push(l), clock: fakeClock(), exec, tty: false });
  return { code, report: JSON.parse(out.join('')) as Report, stderr: err.join('\n'), calls: exec.calls };
}

/** A dry-run as a person sees it: its stdout (the commands it would run). */
async function dryRun(def: ScriptDef, argv: string[]) {
  const exec = fakeExec();
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(def, [...argv, '--dry-run'], {}, { stdout: (t) => out.push(t), stderr: (l) => err.push(l), clock: fakeClock(), exec, tty: false });
  return { code, stdout: out.join(''), stderr: err.join('\n'), calls: exec.calls };
}

/** What the fake server holds: learnflow, one service's database, the state store's and the service's logins. */
const VERIFIER_DAPR = scramVerifier('dapr-source-password', Buffer.alloc(16, 1));
const VERIFIER_STUDENT = scramVerifier('student-source-password', Buffer.alloc(16, 2));
const VERIFIER_TUTOR = scramVerifier('tutor-source-password', Buffer.alloc(16, 3));
const SERVICE_COMMENT = 'learnflow-kit: owner of a service database';
const role = (name: string, verifier: string, extra: Partial<BackupRole> = {}): BackupRole => ({
  name,
  login: true,
  inherit: false,
  createdb: false,
  createrole: false,
  replication: false,
  bypassrls: false,
  config: null,
  comment: SERVICE_COMMENT,
  verifier,
  ...extra,
});
const INVENTORY = {
  server: '17.11',
  database: 'learnflow',
  owner: 'learnflow_user',
  superusers: ['learnflow_user', 'postgres'],
  roles: [
    role('dapr_state', VERIFIER_DAPR, { comment: null, config: ['search_path=dapr'] }),
    role('student_api', VERIFIER_STUDENT),
    role('tutor_api', VERIFIER_TUTOR),
  ],
  databases: [
    { name: 'students_db', owner: 'student_api' },
    { name: 'tutors_db', owner: 'tutor_api' },
  ],
  schemas: [{ name: 'dapr', owner: 'dapr_state' }],
};

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (name: string, data: Record<string, string>) => ({
  metadata: { name },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
const secrets = (...items: object[]) => on(['get', 'secret'], { stdout: JSON.stringify({ items }) });
const SOURCE_SECRETS = secrets(
  secret('student-api-db', { password: 'student-source-password' }),
  secret('tutor-api-db', { password: 'tutor-source-password' }),
  secret('dapr-statestore', {
    connectionString: 'host=postgresql.learnflow.svc.cluster.local port=5432 user=dapr_state password=dapr-source-password dbname=learnflow sslmode=prefer',
  }),
);
const PASSWORDS = ['dapr-source-password', 'student-source-password', 'tutor-source-password'];

/** The pod: the inventory query on stdin, pg_dump of any database (its name in the dump). */
const sourcePod =
  (dump: (db: string) => string = (db) => DUMP.replace('public.users', `public.${db}_t`)): FakeHandler =>
  (args, _cmd, opts) => {
    if (!args.includes('exec') || !args.includes('postgresql-0')) return undefined;
    // Over several lines, as psql prints json_agg's output.
    if (opts.input?.includes("'superusers'")) return { stdout: `${JSON.stringify(INVENTORY, null, 1)}\n` };
    const script = args[args.length - 1]!;
    if (script.includes('pg_dump')) return { stdout: dump(/-d (\w+) /.exec(script)?.[1] ?? 'learnflow') };
    return undefined;
  };

function listFiles(d: string): string[] {
  return readdirSync(d)
    .flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? listFiles(path.join(d, f)).map((x) => `${f}/${x}`) : [f]))
    .sort();
}

describe('backup-postgres through kubectl exec', () => {
  it("dumps every database of the stack in the ready pod with the container's own credentials, and the logins and their Secrets' passwords; folder 700, files 600", async () => {
    const out = path.join(dir, 'b');
    const r = await run(backupScript(), ['--output', out], readyPod, SOURCE_SECRETS, sourcePod());
    expect(r.code, r.stderr).toBe(0);
    const dumps = r.calls.filter((c) => c.args.some((a) => a.includes('pg_dump')));
    expect(dumps.map((c) => c.args)).toEqual([
      [
        'exec',
        '-n',
        'learnflow',
        'postgresql-0',
        '-c',
        'postgresql',
        '--',
        'sh',
        '-c',
        'export PGPASSWORD="$POSTGRES_PASSWORD"; exec pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --clean --if-exists --no-password',
      ],
      [
        'exec',
        '-n',
        'learnflow',
        'postgresql-0',
        '-c',
        'postgresql',
        '--',
        'sh',
        '-c',
        'export PGPASSWORD="$POSTGRES_PASSWORD"; exec pg_dump -U "$POSTGRES_USER" -d students_db --clean --if-exists --no-password',
      ],
      [
        'exec',
        '-n',
        'learnflow',
        'postgresql-0',
        '-c',
        'postgresql',
        '--',
        'sh',
        '-c',
        'export PGPASSWORD="$POSTGRES_PASSWORD"; exec pg_dump -U "$POSTGRES_USER" -d tutors_db --clean --if-exists --no-password',
      ],
    ]);
    expect(listFiles(out)).toEqual(['db/learnflow.sql', 'db/students_db.sql', 'db/tutors_db.sql', 'manifest.json', 'roles.json', 'topics.yaml']);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    for (const f of listFiles(out)) expect(statSync(path.join(out, f)).mode & 0o777, f).toBe(0o600);
    expect(readFileSync(path.join(out, 'db/students_db.sql'), 'utf8')).toContain('public.students_db_t');
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'learnflow-stack-backup/1',
      kitVersion: expect.any(String),
      serverVersion: '17.11',
      createdAt: '2026-11-22T12:00:00.000Z',
      namespace: 'learnflow',
      databases: [
        { name: 'learnflow', kind: 'main', owner: 'learnflow_user', file: 'db/learnflow.sql', tables: 1 },
        { name: 'students_db', kind: 'service', owner: 'student_api', file: 'db/students_db.sql', tables: 1 },
        { name: 'tutors_db', kind: 'service', owner: 'tutor_api', file: 'db/tutors_db.sql', tables: 1 },
      ],
      roles: ['dapr_state', 'student_api', 'tutor_api'],
      superusers: ['learnflow_user', 'postgres'],
      schemas: [{ database: 'learnflow', name: 'dapr', owner: 'dapr_state' }],
      secretPasswords: true,
      topics: { file: 'topics.yaml', source: 'k8s/kafka/topics.yaml' },
    });
    expect(manifest.topics.topics.length).toBeGreaterThan(0);
    expect(JSON.stringify(manifest)).not.toMatch(/password|SCRAM/);
    const roles = JSON.parse(readFileSync(path.join(out, 'roles.json'), 'utf8')) as BackupRole[];
    expect(roles.map((x) => [x.name, x.password, x.verifier])).toEqual([
      ['dapr_state', 'dapr-source-password', VERIFIER_DAPR],
      ['student_api', 'student-source-password', VERIFIER_STUDENT],
      ['tutor_api', 'tutor-source-password', VERIFIER_TUTOR],
    ]);
    // Never a password or a verifier in a command line, the log or the report.
    const printed = r.stderr + JSON.stringify(r.report) + r.calls.map((c) => c.line).join('\n');
    for (const pw of [...PASSWORDS, VERIFIER_DAPR]) expect(printed).not.toContain(pw);
    expect(r.report.artifacts).toEqual({ backup: expect.stringContaining('b') });
    expect(r.report.data).toMatchObject({
      roles: ['dapr_state', 'student_api', 'tutor_api'],
      databases: [
        { name: 'learnflow', tables: 1 },
        { name: 'students_db', tables: 1 },
        { name: 'tutors_db', tables: 1 },
      ],
    });
  });

  it('keeps nothing when one dump is incomplete', async () => {
    const out = path.join(dir, 'b');
    const r = await run(
      backupScript(),
      ['--output', out],
      readyPod,
      SOURCE_SECRETS,
      sourcePod((db) => (db === 'tutors_db' ? DUMP.replace('dump complete', '') : DUMP)),
    );
    expect(r.code).toBe(1);
    expect(r.report.steps[0]!.error!.message).toMatch(/pg_dump of tutors_db .*incomplete/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(path.join(dir, '.b.partial'))).toBe(false);
  });

  it('never overwrites anything', async () => {
    mkdirSync(path.join(dir, 'b'));
    const r = await run(backupScript(), ['--output', path.join(dir, 'b')]);
    expect(r.code).toBe(2);
    expect(r.report.error!.message).toMatch(/already exists/);
  });

  it('says so when no PostgreSQL pod is ready', async () => {
    const r = await run(backupScript(), ['--output', path.join(dir, 'x')], on(['get', 'pod'], { stdout: JSON.stringify({ items: [] }) }));
    expect(r.code).toBe(1);
    expect(r.report.steps[0]!.error).toMatchObject({
      message: 'no PostgreSQL pod in namespace learnflow',
      docs: 'docs/troubleshooting.md#postgres-unreachable',
    });
  });

  it('--dry-run contacts nothing and prints the very command the run executes', async () => {
    const out = path.join(dir, 'x');
    const dry = await dryRun(backupScript(), ['--output', out]);
    expect(dry.code).toBe(0);
    expect(dry.calls).toEqual([]);
    const shown = /^# would run: (.*) > (\S+)$/m.exec(dry.stdout)!;
    expect(shown, dry.stdout).toBeTruthy();
    const real = await run(backupScript(), ['--output', out], readyPod, SOURCE_SECRETS, sourcePod());
    expect(real.code, real.stderr).toBe(0);
    const ran = real.calls.find((c) => c.args.some((a) => a.includes('pg_dump')))!;
    // The same command, the planned pod's selector in place of the pod the run found.
    expect(shown[1]).toBe(ran.line.replace('postgresql-0', "'<ready pod -l app.kubernetes.io/name=postgresql>'"));
    expect(shown[2]).toBe(path.join(dir, '.x.partial/db/learnflow.sql'));
    expect(dry.stdout).toMatch(/each service database/);
  });

  it('--dry-run with --pg-url prints the local pg_dump the run executes, the password in PGPASSWORD only', async () => {
    const out = path.join(dir, 'y');
    const url = 'postgres://u:secret-pw@127.0.0.1:5999/learnflow';
    const dry = await dryRun(backupScript(), ['--output', out, '--pg-url', url, '--no-cluster']);
    expect(dry.code, dry.stderr).toBe(0);
    const shown = /^# would run: PGPASSWORD=<from --pg-url> (.*)$/m.exec(dry.stdout)![1]!;
    expect(shown).not.toContain('secret-pw');
    expect(shown).toBe(
      `pg_dump --dbname postgres://u@127.0.0.1:5999/learnflow --clean --if-exists --no-password --file ${path.join(dir, '.y.partial/db/learnflow.sql')}`,
    );
    expect(dry.stdout).not.toMatch(/Secrets/);
  });

  it('--no-cluster needs --pg-url', async () => {
    const r = await run(backupScript(), ['--no-cluster']);
    expect(r.code).toBe(2);
    expect(r.report.error!.message).toMatch(/--no-cluster needs --pg-url/);
  });
});

/** A backup folder as backup-postgres writes it (the manifest and roles above). */
function writeStackBackup(
  to: string,
  roles: BackupRole[] = INVENTORY.roles.map((x) => ({ ...x, password: `${x.name.split('_')[0]}-source-password` })),
): string {
  mkdirSync(path.join(to, 'db'), { recursive: true });
  const databases = [
    { name: 'learnflow', kind: 'main', owner: 'learnflow_user', file: 'db/learnflow.sql', tables: 1 },
    { name: 'students_db', kind: 'service', owner: 'student_api', file: 'db/students_db.sql', tables: 1 },
    { name: 'tutors_db', kind: 'service', owner: 'tutor_api', file: 'db/tutors_db.sql', tables: 1 },
  ];
  for (const d of databases) writeFileSync(path.join(to, d.file), DUMP.replace('public.users', `public.${d.name}_t`));
  writeFileSync(path.join(to, 'roles.json'), JSON.stringify(roles));
  writeFileSync(path.join(to, 'topics.yaml'), readFileSync('k8s/kafka/topics.yaml', 'utf8'));
  writeFileSync(
    path.join(to, 'manifest.json'),
    JSON.stringify({
      format: 'learnflow-stack-backup/1',
      kitVersion: '0',
      serverVersion: '17.11',
      createdAt: '2026-11-22T12:00:00.000Z',
      namespace: 'learnflow',
      databases,
      roles: roles.map((x) => x.name),
      superusers: ['learnflow_user'],
      schemas: [],
      secretPasswords: true,
      topics: { file: 'topics.yaml', source: 'k8s/kafka/topics.yaml', topics: [] },
    }),
  );
  return to;
}

describe('restore-postgres of a stack backup through kubectl exec', () => {
  /** A fresh stack: learnflow seeded (tables), the services' databases empty (or absent), one service's Secret. */
  function targetPod(opts: { tables?: number; databases?: string[]; roles?: string[] } = {}) {
    const sql: string[] = [];
    let restored = false;
    const handler = on(['exec', '-i', '-n', 'learnflow', 'postgresql-0'], (args, o) => {
      const input = o.input ?? '';
      const script = args[args.length - 1]!;
      if (input.includes("'databases', (SELECT coalesce(json_agg(datname"))
        return {
          stdout:
            JSON.stringify({
              database: 'learnflow',
              databases: opts.databases ?? ['learnflow', 'postgres', 'students_db', 'tutors_db'],
              roles: opts.roles ?? ['learnflow_user', 'dapr_state', 'student_api', 'tutor_api'],
            }) + '\n',
        };
      if (input.includes('pg_class'))
        return { stdout: `${restored ? Math.max(opts.tables ?? 10, 1) : script.includes('"$POSTGRES_DB"') ? (opts.tables ?? 10) : 0}\n` };
      if (input.includes('has_database_privilege')) {
        const verifiers = [...sql.join('\n').matchAll(/ROLE "(\w+)" WITH [A-Z ]+PASSWORD '([^']+)'/g)];
        return {
          stdout:
            JSON.stringify(
              verifiers.map((m) => ({ name: m[1], verifier: m[2], connect: true })),
              null,
              1,
            ) + '\n',
        };
      }
      if (input.startsWith('--')) restored = true;
      sql.push(input);
      return { stdout: '' };
    });
    return { handler, sql };
  }
  const TARGET_SECRETS = secrets(
    secret('student-api-db', { password: 'student-target-password' }),
    secret('dapr-statestore', { connectionString: 'host=x port=5432 user=dapr_state password=dapr-target-password dbname=learnflow sslmode=prefer' }),
  );

  it("sets each login to its Secret's password in the target, keeps the backup's where there is none and makes that Secret; then each database in one transaction", async () => {
    const input = writeStackBackup(path.join(dir, 'in'));
    const pod = targetPod();
    const r = await run(
      restoreScript(
        async () => true,
        () => false,
      ),
      ['--input', input, '--force', '--yes'],
      readyPod,
      TARGET_SECRETS,
      on(['get', 'statefulset'], { stdout: '' }),
      on(['apply'], { stdout: '' }),
      on(['get', '-f', '-'], { stdout: '' }),
      pod.handler,
    );
    expect(r.code, r.stderr).toBe(0);
    const roles = pod.sql.find((x) => x.includes('ALTER ROLE "student_api" WITH'))!;
    const verifierOf = (name: string) => new RegExp(`ROLE "${name}" WITH [A-Z ]+PASSWORD '([^']+)'`).exec(roles)![1]!;
    // The target's Secrets win: its apps already read them.
    expect(verifierMatches(verifierOf('student_api'), 'student-target-password')).toBe(true);
    expect(verifierMatches(verifierOf('dapr_state'), 'dapr-target-password')).toBe(true);
    // tutor-api has no Secret in the target: the backup's password, and its Secret made from it.
    expect(verifierOf('tutor_api')).toBe(VERIFIER_TUTOR);
    const apply = r.calls.find((c) => c.args[0] === 'apply')!;
    const made = JSON.parse(apply.input!.split('\n')[0]!);
    expect(made).toMatchObject({
      kind: 'Secret',
      metadata: { name: 'tutor-api-db', namespace: 'learnflow' },
      stringData: { password: 'tutor-source-password', database: 'tutors_db', username: 'tutor_api' },
    });
    expect(roles).toMatch(/ALTER ROLE "dapr_state" SET search_path TO 'dapr';/);
    // The databases: learnflow through POSTGRES_DB, the others by name, each with --single-transaction, the dump on stdin.
    const restores = r.calls.filter((c) => c.input?.startsWith('--')).map((c) => c.args[c.args.length - 1]);
    expect(restores).toEqual([
      'export PGPASSWORD="$POSTGRES_PASSWORD"; exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f -',
      'export PGPASSWORD="$POSTGRES_PASSWORD"; exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U "$POSTGRES_USER" -d students_db -f -',
      'export PGPASSWORD="$POSTGRES_PASSWORD"; exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U "$POSTGRES_USER" -d tutors_db -f -',
    ]);
    expect(r.report.steps[0]!.checks.map((c) => [c.name, c.ok])).toEqual([
      ['database learnflow', true],
      ['database students_db', true],
      ['database tutors_db', true],
      ['login dapr_state', true],
      ['login student_api', true],
      ['login tutor_api', true],
    ]);
    // No password in a command line, the log or the report (the Secret made goes through stdin).
    const printed = r.stderr + JSON.stringify(r.report) + r.calls.map((c) => c.line).join('\n');
    for (const pw of ['student-target-password', 'dapr-target-password', 'tutor-source-password', VERIFIER_TUTOR]) expect(printed).not.toContain(pw);
  });

  it('makes missing service databases and roles, closed to PUBLIC, and refuses databases with tables without --force', async () => {
    const input = writeStackBackup(path.join(dir, 'in'));
    const refused = await run(
      restoreScript(
        async () => true,
        () => false,
      ),
      ['--input', input],
      readyPod,
      TARGET_SECRETS,
      targetPod().handler,
    );
    expect(refused.code).toBe(2);
    expect(refused.report.steps[0]!.error!.message).toMatch(/^refusing to overwrite learnflow \(10 tables\) at pod postgresql-0/);
    expect(refused.calls.some((c) => c.input?.includes('ROLE'))).toBe(false);

    const pod = targetPod({ tables: 0, databases: ['learnflow'], roles: ['learnflow_user'] });
    const r = await run(
      restoreScript(
        async () => false,
        () => false,
      ),
      ['--input', input],
      readyPod,
      secrets(),
      on(['get', 'statefulset'], { stdout: '' }),
      on(['apply'], { stdout: '' }),
      on(['get', '-f', '-'], { stdout: '' }),
      pod.handler,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(pod.sql.find((x) => x.includes('CREATE ROLE "student_api"'))).toBeTruthy();
    expect(pod.sql.find((x) => x.includes('CREATE DATABASE'))).toBe(
      [
        'CREATE DATABASE "students_db" OWNER "student_api";',
        'REVOKE CONNECT, TEMPORARY ON DATABASE "students_db" FROM PUBLIC;',
        'GRANT CONNECT ON DATABASE "students_db" TO "student_api";',
        'CREATE DATABASE "tutors_db" OWNER "tutor_api";',
        'REVOKE CONNECT, TEMPORARY ON DATABASE "tutors_db" FROM PUBLIC;',
        'GRANT CONNECT ON DATABASE "tutors_db" TO "tutor_api";',
        '',
      ].join('\n'),
    );
    expect(r.report.steps[0]!.changes).toMatchObject({ 'role student_api': 'created', 'database students_db': 'restored', 'database learnflow': 'restored' });
  });

  it('refuses a folder that is not a whole backup before contacting anything, and --dry-run prints the plan', async () => {
    const input = writeStackBackup(path.join(dir, 'in'));
    writeFileSync(path.join(input, 'db/tutors_db.sql'), DUMP.replace('dump complete', ''));
    const r = await run(restoreScript(), ['--input', input, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.report.error!.message).toMatch(/db\/tutors_db\.sql is not a complete pg_dump/);
    expect(r.calls).toEqual([]);
    const other = path.join(dir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'manifest.json'), '{"format": "something-else/9"}');
    expect((await run(restoreScript(), ['--input', other])).report.error!.message).toMatch(/is not a backup this kit reads/);

    const good = writeStackBackup(path.join(dir, 'good'));
    const dry = await dryRun(restoreScript(), ['--input', path.join(good, 'manifest.json')]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.calls).toEqual([]);
    expect(dry.stdout).toMatch(/the logins dapr_state, student_api, tutor_api/);
    expect(dry.stdout).toContain(`-d students_db -f -' < ${path.join(good, 'db/students_db.sql')}`);
  });
});

describe("restore-postgres of an older kit's single .sql file through kubectl exec", () => {
  /** The pod of a stack deployed by the kit: what it holds, and `tables()` user tables in learnflow. */
  const podWith = (tables: () => number) =>
    on(['exec', '-i', '-n', 'learnflow', 'postgresql-0'], (_args, opts) =>
      opts.input?.includes('json_agg(datname')
        ? { stdout: JSON.stringify({ database: 'learnflow', databases: ['learnflow', 'postgres'], roles: ['learnflow_user'] }) + '\n' }
        : { stdout: opts.input?.includes('pg_class') ? `${tables()}\n` : '' },
    );
  const tablesIn = (n: number) => podWith(() => n);

  it("restores into an empty database: the file on psql's stdin, one transaction, nothing in argv but the shell script", async () => {
    const file = path.join(dir, 'in.sql');
    writeFileSync(file, DUMP);
    let count = 0;
    const r = await run(
      restoreScript(
        async () => false,
        () => false,
      ),
      ['--input', file],
      readyPod,
      podWith(() => (count++ === 0 ? 0 : 1)),
    );
    expect(r.code, r.stderr).toBe(0);
    const restoreCall = r.calls.find((c) => c.input === DUMP)!;
    expect(restoreCall.args.slice(-1)[0]).toBe(
      'export PGPASSWORD="$POSTGRES_PASSWORD"; exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f -',
    );
    expect(r.report.steps[0]!.changes).toEqual({ 'database learnflow': 'restored' });
  });

  it('refuses a database with tables without --force, asks with --force on a terminal, needs --yes without one', async () => {
    const file = path.join(dir, 'in.sql');
    writeFileSync(file, DUMP);
    const noForce = await run(
      restoreScript(
        async () => true,
        () => true,
      ),
      ['--input', file],
      readyPod,
      tablesIn(10),
    );
    expect(noForce.code).toBe(2);
    expect(noForce.report.steps[0]!.error).toMatchObject({
      message: expect.stringMatching(/refusing to overwrite learnflow \(10 tables\) at pod postgresql-0 .* which hold tables/),
      fix: expect.stringMatching(/--force/),
    });
    expect(noForce.calls.some((c) => c.input === DUMP)).toBe(false);

    const questions: string[] = [];
    const declined = await run(
      restoreScript(
        async (q) => (questions.push(q), false),
        () => true,
      ),
      ['--input', file, '--force'],
      readyPod,
      tablesIn(10),
    );
    expect(declined.code).toBe(2);
    expect(questions[0]).toMatch(/^Overwrite learnflow \(10 tables\) at pod postgresql-0 .* from .*in\.sql\?$/);
    expect(declined.calls.some((c) => c.input === DUMP)).toBe(false);

    const noTty = await run(
      restoreScript(
        async () => true,
        () => false,
      ),
      ['--input', file, '--force'],
      readyPod,
      tablesIn(10),
    );
    expect(noTty.code).toBe(2);
    expect(noTty.report.steps[0]!.error!.fix).toBe('add --yes');

    const accepted = await run(
      restoreScript(
        async () => true,
        () => true,
      ),
      ['--input', file, '--force'],
      readyPod,
      tablesIn(10),
    );
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.calls.some((c) => c.input === DUMP)).toBe(true);
  });

  it('needs --input, and a file that exists', async () => {
    expect((await run(restoreScript(), [])).report.error!.message).toMatch(/--input DIR/);
    expect((await run(restoreScript(), ['--input', path.join(dir, 'nope.sql')])).code).toBe(2);
    const folder = await run(restoreScript(), ['--input', dir]);
    expect(folder.code).toBe(2);
    expect(folder.report.error!.message).toMatch(/is a folder without manifest.json: not a backup made by backup-postgres.mts$/);
  });

  it('--dry-run refuses what the run refuses (a file that is not a backup) and otherwise prints the psql the run executes', async () => {
    for (const args of [['--dry-run'], []]) {
      const r = await run(
        restoreScript(
          async () => true,
          () => true,
        ),
        ['--input', '/etc/hostname', ...args],
      );
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.report.error!.message).toBe('/etc/hostname is not a plain-SQL pg_dump backup (no "-- PostgreSQL database dump" header)');
      expect(r.calls).toEqual([]);
    }
    const file = path.join(dir, 'in.sql');
    writeFileSync(file, DUMP);
    const dry = await dryRun(restoreScript(), ['--input', file]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.calls).toEqual([]);
    const shown = /^# would run: (.*) < (\S+)$/m.exec(dry.stdout)!;
    let count = 0;
    const real = await run(
      restoreScript(
        async () => false,
        () => false,
      ),
      ['--input', file],
      readyPod,
      podWith(() => (count++ === 0 ? 0 : 1)),
    );
    expect(real.code, real.stderr).toBe(0);
    expect(shown[1]).toBe(real.calls.find((c) => c.input === DUMP)!.line.replace('postgresql-0', "'<ready pod -l app.kubernetes.io/name=postgresql>'"));
    expect(shown[2]).toBe(file);
  });
});

describe('helpers', () => {
  it('keeps the password out of the URL pg_dump gets', () => {
    expect(splitPgUrl('postgres://u:p%40ss@h:5433/db?sslmode=require')).toEqual({ dbname: 'postgres://u@h:5433/db?sslmode=require', password: 'p@ss' });
  });
  it('reads what a dump holds', () => {
    expect(inspectDump(DUMP)).toEqual({ complete: true, tables: 1, clean: true });
    expect(inspectDump('CREATE TABLE public.a (x int);')).toEqual({ complete: false, tables: 1, clean: false });
  });
  it('names backups by UTC time', () => {
    expect(timestampName(Date.UTC(2026, 10, 22, 12, 0, 5))).toBe('learnflow-20261122T120005Z');
  });
  it('points a URL at another database of the same server', () => {
    expect(withDatabase('postgres://u:p@h:5433/learnflow?sslmode=require', 'students_db')).toBe('postgres://u:p@h:5433/students_db?sslmode=require');
  });
  it('makes a role as it was, with the password verifier it is given, never a superuser', () => {
    const sql = roleSql({ ...INVENTORY.roles[0]! }, 'SCRAM-SHA-256$4096:x$y:z', false);
    expect(sql).toBe(
      [
        `CREATE ROLE "dapr_state" WITH LOGIN NOSUPERUSER NOINHERIT NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:x$y:z';`,
        'COMMENT ON ROLE "dapr_state" IS NULL;',
        'ALTER ROLE "dapr_state" RESET ALL;',
        `ALTER ROLE "dapr_state" SET search_path TO 'dapr';`,
      ].join('\n'),
    );
    expect(roleSql(INVENTORY.roles[1]!, undefined, true)).toMatch(
      /^ALTER ROLE "student_api" WITH LOGIN .* PASSWORD NULL;\nCOMMENT ON ROLE "student_api" IS 'learnflow-kit: owner of a service database';/,
    );
  });
});
