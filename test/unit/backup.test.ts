// backup-postgres / restore-postgres without --pg-url: pg_dump and psql run inside the pod through kubectl exec.
// A fake kubectl checks the command lines (no password anywhere in them), stdin, and the refusals.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupScript, inspectDump, restoreScript, splitPgUrl, timestampName } from '../../scripts/lib/tools/backup.js';
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

describe('backup-postgres through kubectl exec', () => {
  it("runs pg_dump in the ready pod with the container's own credentials and writes a complete file, mode 600", async () => {
    const file = path.join(dir, 'b.sql');
    const r = await run(backupScript(), ['--output', file], readyPod, on(['exec', 'postgresql-0'], { stdout: DUMP }));
    expect(r.code, r.stderr).toBe(0);
    const exec = r.calls.find((c) => c.args.includes('exec'))!;
    expect(exec.args).toEqual([
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
    ]);
    expect(readFileSync(file, 'utf8')).toBe(DUMP);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(r.report.artifacts).toEqual({ backup: expect.stringContaining('b.sql') });
  });

  it('keeps no file when the dump is incomplete', async () => {
    const file = path.join(dir, 'b.sql');
    const r = await run(backupScript(), ['--output', file], readyPod, on(['exec', 'postgresql-0'], { stdout: DUMP.replace('dump complete', '') }));
    expect(r.code).toBe(1);
    expect(r.report.steps[0]!.error!.message).toMatch(/incomplete/);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.join(dir, '.b.sql.partial'))).toBe(false);
  });

  it('says so when no PostgreSQL pod is ready', async () => {
    const r = await run(backupScript(), ['--output', path.join(dir, 'x.sql')], on(['get', 'pod'], { stdout: JSON.stringify({ items: [] }) }));
    expect(r.code).toBe(1);
    expect(r.report.steps[0]!.error).toMatchObject({
      message: 'no PostgreSQL pod in namespace learnflow',
      docs: 'docs/troubleshooting.md#postgres-unreachable',
    });
  });

  it('--dry-run contacts nothing and prints the very command the run executes', async () => {
    const file = path.join(dir, 'x.sql');
    const dry = await dryRun(backupScript(), ['--output', file]);
    expect(dry.code).toBe(0);
    expect(dry.calls).toEqual([]);
    const shown = /^# would run: (.*) > (\S+)$/m.exec(dry.stdout)!;
    expect(shown, dry.stdout).toBeTruthy();
    const real = await run(backupScript(), ['--output', file], readyPod, on(['exec', 'postgresql-0'], { stdout: DUMP }));
    expect(real.code, real.stderr).toBe(0);
    const ran = real.calls.find((c) => c.args.includes('exec'))!;
    // The same command, the planned pod's selector in place of the pod the run found.
    expect(shown[1]).toBe(ran.line.replace('postgresql-0', "'<ready pod -l app.kubernetes.io/name=postgresql>'"));
    expect(shown[2]).toBe(path.join(dir, '.x.sql.partial'));
  });

  it('--dry-run with --pg-url prints the local pg_dump the run executes, the password in PGPASSWORD only', async () => {
    const file = path.join(dir, 'y.sql');
    const url = 'postgres://u:secret-pw@127.0.0.1:5999/learnflow';
    const dry = await dryRun(backupScript(), ['--output', file, '--pg-url', url]);
    const shown = /^# would run: PGPASSWORD=<from --pg-url> (.*)$/m.exec(dry.stdout)![1]!;
    expect(shown).not.toContain('secret-pw');
    const real = await run(backupScript(), ['--output', file, '--pg-url', url], (args, cmd) =>
      cmd === 'pg_dump' ? (writeFileSync(args[args.indexOf('--file') + 1]!, DUMP), { stdout: '' }) : undefined,
    );
    expect(real.code, real.stderr).toBe(0);
    expect(shown).toBe(real.calls.find((c) => c.cmd === 'pg_dump')!.line);
  });
});

describe('restore-postgres through kubectl exec', () => {
  const tablesIn = (n: number) =>
    on(['exec', '-i', '-n', 'learnflow', 'postgresql-0'], (args, opts) => (opts.input?.includes('pg_class') ? { stdout: `${n}\n` } : { stdout: '' }));

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
      on(['exec', '-i'], (_args, opts) => (opts.input?.includes('pg_class') ? { stdout: `${count++ === 0 ? 0 : 1}\n` } : { stdout: '' })),
    );
    expect(r.code, r.stderr).toBe(0);
    const restoreCall = r.calls.find((c) => c.input === DUMP)!;
    expect(restoreCall.args.slice(-1)[0]).toBe(
      'export PGPASSWORD="$POSTGRES_PASSWORD"; exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f -',
    );
    expect(r.report.steps[0]!.changes).toEqual({ 'database learnflow in pod postgresql-0 (namespace learnflow)': 'restored' });
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
      message: expect.stringMatching(/refusing to overwrite database learnflow in pod postgresql-0 .* which holds 10 table\(s\)/),
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
    expect(questions[0]).toMatch(/^Overwrite database learnflow in pod postgresql-0/);
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
    expect((await run(restoreScript(), [])).report.error!.message).toMatch(/--input FILE/);
    expect((await run(restoreScript(), ['--input', path.join(dir, 'nope.sql')])).code).toBe(2);
    const folder = await run(restoreScript(), ['--input', dir]);
    expect(folder.code).toBe(2);
    expect(folder.report.error!.message).toMatch(/is a folder, not a backup file$/);
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
      on(['exec', '-i'], (_a, opts) => (opts.input?.includes('pg_class') ? { stdout: `${count++ === 0 ? 0 : 1}\n` } : { stdout: '' })),
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
    expect(timestampName(Date.UTC(2026, 10, 22, 12, 0, 5))).toBe('learnflow-20261122T120005Z.sql');
  });
});
