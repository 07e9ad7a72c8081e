// Logins through a port-forward arrive from 127.0.0.1, which the postgres image's initdb trusts (no --auth-host:
// docker-library/postgres docker-entrypoint.sh, #938). On a REAL PostgreSQL 15 initialised the same way:
// verify-postgres notices that a wrong password gets in, and the StatefulSet's start wrapper (run here for real,
// taken from the rendered manifest) brings the pg_hba.conf of such a volume to scram-sha-256, idempotently.

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPostgres } from '../../scripts/lib/components/postgres/manifests.js';
import { tryLogin } from '../../scripts/lib/components/shared/postgres-client.js';
import { connectPg } from '../../scripts/lib/components/shared/postgres-client.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit } from '../support/cli.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';

let server: PostgresInstance;
let url: string;
let stubDir: string;

const verify = () => runKit('scripts/verify-postgres.mts', ['--no-cluster', '--pg-url', url, '--json']);
const passwordCheck = (stdout: string) => (JSON.parse(stdout) as Report).steps[0]!.checks.find((c) => c.name === 'password required')!;

/** The container of the rendered StatefulSet: its command and env. */
const container = (renderPostgres('learnflow', 'pw').find((m) => m.kind === 'StatefulSet') as any).spec.template.spec.containers[0];

/** Runs the StatefulSet's start command as the server's OS user, with a stand-in for the image's entrypoint. */
async function runStartWrapper(): Promise<{ code: number; stderr: string; stdout: string }> {
  const [sh, flag, script, argv0] = container.command as string[];
  return server.runAsServerUser(sh!, [flag!, script!, argv0!, ...(container.args as string[])], {
    PGDATA: server.dataDir,
    PATH: `${stubDir}:${process.env.PATH}`,
  });
}

beforeAll(async () => {
  server = await startPostgres({ authHost: null }); // as the official image initialises a volume
  url = await server.createDatabase('learnflow');
  stubDir = mkdtempSync(path.join(tmpdir(), 'lf-entrypoint-'));
  chmodSync(stubDir, 0o755);
  writeFileSync(path.join(stubDir, 'docker-entrypoint.sh'), '#!/bin/sh\necho "entrypoint: $*"\n', { mode: 0o755 });
  const d = await runKit('scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', url, '--json']);
  expect(d.code, d.stderr).toBe(0);
});
afterAll(async () => {
  await server?.stop();
  if (stubDir) rmSync(stubDir, { recursive: true, force: true });
});

describe('a volume initialised without --auth-host (127.0.0.1 trusted)', () => {
  it('lets a wrong password in, and verify-postgres fails naming it', async () => {
    const admin = await connectPg(url);
    try {
      expect((await tryLogin(admin, 'postgres', 'wrong')).ok).toBe(true);
    } finally {
      await admin.end();
    }
    const r = await verify();
    expect(r.code).toBe(1);
    expect(passwordCheck(r.stdout)).toMatchObject({ ok: false, detail: expect.stringContaining('logged in with a wrong password') });
  });

  it('new volumes are initialised with --auth-host=scram-sha-256', () => {
    expect(container.env).toContainEqual({ name: 'POSTGRES_INITDB_ARGS', value: '--auth-host=scram-sha-256' });
  });

  it('the start wrapper turns its TCP lines to scram-sha-256, keeps the socket trusted, then runs the entrypoint with the args', async () => {
    const hba = path.join(server.dataDir, 'pg_hba.conf');
    expect(readFileSync(hba, 'utf8')).toMatch(/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+trust\s*$/m);
    const r = await runStartWrapper();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`entrypoint: postgres ${container.args.join(' ')}`);
    expect(r.stderr).toContain('TCP connections now need a password');
    const text = readFileSync(hba, 'utf8');
    const rules = text.split('\n').filter((l) => /^\s*(local|host)/.test(l));
    expect(rules.filter((l) => /^\s*host/.test(l)).every((l) => /\sscram-sha-256\s*$/.test(l))).toBe(true);
    expect(rules.filter((l) => /^\s*local/.test(l)).every((l) => /\strust\s*$/.test(l))).toBe(true);

    await server.reload();
    const admin = await connectPg(url);
    try {
      expect(await tryLogin(admin, 'postgres', 'wrong')).toMatchObject({ ok: false, code: '28P01' });
    } finally {
      await admin.end();
    }
    const v = await verify();
    expect(v.code, v.stdout).toBe(0);
    expect(passwordCheck(v.stdout)).toMatchObject({ ok: true });
  });

  it('a second start changes nothing and says nothing', async () => {
    const hba = path.join(server.dataDir, 'pg_hba.conf');
    const before = readFileSync(hba, 'utf8');
    const r = await runStartWrapper();
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(readFileSync(hba, 'utf8')).toBe(before);
  });
});
