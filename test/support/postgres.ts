// A throwaway, real PostgreSQL 15 cluster for tests: temp dir, free loopback port, scram auth, generated password.
// Binaries come from the Debian package installed by test/substrate/provision.sh (provision-data.sh).
// Recipe: /work/shared/notes/test-substrate.md section 1.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freeLocalPort } from '../../scripts/lib/run/port-forward.js';
import { forgetOnExit, runProcess, stopOnExit } from './process.js';

export interface StartPostgresOptions {
  /** Directory holding initdb, pg_ctl, postgres. Default /usr/lib/postgresql/15/bin (or $LEARNFLOW_PG_BIN). */
  binDir?: string;
  /** Extra postgresql.conf settings, e.g. { max_connections: "50" }. */
  settings?: Record<string, string>;
  /**
   * initdb's --auth-host. Default scram-sha-256. null leaves it out, as the official postgres image does without
   * POSTGRES_INITDB_ARGS: pg_hba.conf then trusts TCP connections from 127.0.0.1.
   */
  authHost?: string | null;
}

export interface PostgresInstance {
  /** postgres://postgres:<pw>@127.0.0.1:<port>/postgres */
  url: string;
  /** Superuser URL to the `postgres` database (same as url; kept separate so callers can say which one they mean). */
  adminUrl: string;
  port: number;
  /** The temp dir (data dir at <dir>/data, server log at <dir>/pg.log). Removed by stop(). */
  dir: string;
  /** The superuser password. */
  password: string;
  /** The data directory (PGDATA), owned by the server's OS user. */
  dataDir: string;
  /** Runs a command as the server's OS user (root cannot own the data files). */
  runAsServerUser(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** pg_ctl reload: the server re-reads pg_hba.conf and postgresql.conf. */
  reload(): Promise<void>;
  /** CREATE DATABASE <name> (lowercase identifier) and return a superuser URL to it. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown, then removes dir. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_BIN = '/usr/lib/postgresql/15/bin';
const PROVISION_HINT = 'run test/substrate/provision.sh (it installs postgresql-15 with apt-get)';

/** Programs run with the C locale: their messages are matched in English. */
const run = (cmd: string, args: string[], timeoutMs = 60_000) => runProcess(cmd, args, { timeoutMs, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** initdb and the server refuse to run as root: run them as the `postgres` OS user then. */
function asServerUser(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function lookupPostgresUser(): Promise<{ uid: number; gid: number }> {
  const uid = await run('id', ['-u', 'postgres']);
  const gid = await run('id', ['-g', 'postgres']);
  if (uid.code !== 0 || gid.code !== 0) {
    throw new Error(`startPostgres: running as root but there is no 'postgres' OS user; ${PROVISION_HINT}`);
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** A free loopback port: the kit's own helper. */
export const freePort = freeLocalPort;

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`createDatabase: '${name}' is not a plain lowercase identifier`);
  }
  return `"${name}"`;
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresInstance> {
  const binDir = opts.binDir ?? process.env.LEARNFLOW_PG_BIN ?? DEFAULT_BIN;
  const initdb = join(binDir, 'initdb');
  const pgCtl = join(binDir, 'pg_ctl');
  for (const bin of [initdb, pgCtl, join(binDir, 'postgres')]) {
    if (!existsSync(bin)) {
      throw new Error(`startPostgres: PostgreSQL binary ${bin} is missing; ${PROVISION_HINT}`);
    }
  }

  const dir = await mkdtemp(join(tmpdir(), 'learnflow-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'pg.log');
  const pwFile = join(dir, 'pw');
  const password = randomBytes(18).toString('hex');
  let started = false;

  const cleanupDir = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (isRoot) {
      const { uid, gid } = await lookupPostgresUser();
      await chown(dir, uid, gid);
      await chown(pwFile, uid, gid);
      await chmod(dir, 0o700);
      const probe = await run('runuser', ['-u', 'postgres', '--', 'test', '-w', dir]);
      if (probe.code !== 0) {
        throw new Error(
          `startPostgres: the postgres OS user cannot write ${dir} (is a parent of TMPDIR=${tmpdir()} private to root?); ` +
            `point TMPDIR at a directory the postgres user can traverse, e.g. /tmp`,
        );
      }
    }

    const [initCmd, initArgs] = asServerUser(initdb, [
      '-D',
      dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      ...(opts.authHost === null ? [] : [`--auth-host=${opts.authHost ?? 'scram-sha-256'}`]),
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    const init = await run(initCmd, initArgs);
    if (init.code !== 0) {
      throw new Error(`startPostgres: initdb failed (exit ${init.code}):\n${init.stderr}\n${init.stdout}`);
    }
    await rm(pwFile, { force: true });

    // Server settings go into postgresql.conf (pg_ctl -o goes through a shell; the file avoids quoting issues).
    const baseSettings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${dir}'`,
      password_encryption: "'scram-sha-256'",
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      shared_preload_libraries: "'pg_stat_statements'",
      max_connections: '100',
    };
    const settings = { ...baseSettings, ...(opts.settings ?? {}) };

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const conf = Object.entries({ ...settings, port: String(port) })
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n');
      await appendFile(join(dataDir, 'postgresql.conf'), `\n# learnflow test (attempt ${attempt})\n${conf}\n`);
      const [ctlCmd, ctlArgs] = asServerUser(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '30', 'start']);
      const res = await run(ctlCmd, ctlArgs, 45_000);
      if (res.code === 0) break;
      const log = await tail(logFile);
      // Another process took the port between freePort() and bind(): retry on a new one.
      if (attempt < 3 && /could not (bind|create listen socket)|Address already in use/i.test(log)) continue;
      throw new Error(`startPostgres: pg_ctl start failed (exit ${res.code}):\n${res.stderr}\n${res.stdout}\n--- ${logFile} (last 30 lines) ---\n${log}`);
    }
    started = true;

    const stopSync = (): void => {
      const [cmd, args] = asServerUser(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']);
      spawnSync(cmd, args, { stdio: 'ignore' });
      spawnSync('rm', ['-rf', dir], { stdio: 'ignore' });
    };
    stopOnExit(dir, stopSync);

    const urlFor = (db: string): string => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
    const url = urlFor('postgres');

    let stopped = false;
    const instance: PostgresInstance = {
      url,
      adminUrl: url,
      port,
      dir,
      password,
      dataDir,
      async runAsServerUser(cmd, args, env) {
        const [c, a] = asServerUser(cmd, args);
        const r = await runProcess(c, a, { timeoutMs: 30_000, env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...env } });
        return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
      },
      async reload() {
        const [cmd, args] = asServerUser(pgCtl, ['-D', dataDir, 'reload']);
        const r = await run(cmd, args);
        if (r.code !== 0) throw new Error(`pg_ctl reload failed: ${r.stderr}`);
        // pg_ctl reload only signals: give the postmaster a moment to re-read the files.
        await new Promise((res) => setTimeout(res, 300));
      },
      async createDatabase(name: string): Promise<string> {
        const ident = quoteIdent(name);
        const pg = await import('pg');
        const client = new pg.default.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${ident}`);
        } finally {
          await client.end();
        }
        return urlFor(name);
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        forgetOnExit(dir);
        const [cmd, args] = asServerUser(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
        const res = await run(cmd, args, 45_000);
        if (res.code !== 0 && existsSync(join(dataDir, 'postmaster.pid'))) {
          // Fast shutdown did not finish: kill the postmaster so the dir can go.
          const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
          if (pid > 0) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* already gone */
            }
          }
        }
        await cleanupDir();
      },
    };
    return instance;
  } catch (err) {
    if (started) {
      const [cmd, args] = asServerUser(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      await run(cmd, args).catch(() => undefined);
    }
    await cleanupDir();
    throw err;
  }
}

/** One query on a connection of its own, closed whatever happens: the tests' way to look into a database. */
export async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
