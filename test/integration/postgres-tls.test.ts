// --tls against a REAL PostgreSQL started with the certificate the kit generates: a client with
// sslmode=require connects over SSL, and one that checks the certificate accepts it for 127.0.0.1.

import { libpqConnectionString } from '../../scripts/lib/components/shared/postgres-topology.js';
import { X509Certificate } from 'node:crypto';
import { chownSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, COMMON_FLAGS } from '../../scripts/lib/core/config.js';
import { createCtx } from '../../scripts/lib/run/context.js';
import { createExec } from '../../scripts/lib/core/exec.js';
import { parseFlags } from '../../scripts/lib/core/flags.js';
import { memoryLogger, SecretRegistry } from '../../scripts/lib/core/log.js';
import { realClock } from '../../scripts/lib/core/clock.js';
import { generateCertificate, type TlsMaterial } from '../../scripts/lib/components/shared/postgres-tls.js';
import { sslFor } from '../../scripts/lib/components/shared/postgres-connection.js';
import { connectPg, serverOffersSsl } from '../../scripts/lib/components/shared/postgres-client.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';
import { waitFor } from '../support/poll.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

let server: PostgresInstance;
let tls: TlsMaterial;
let otherTls: TlsMaterial;
const log = memoryLogger();

beforeAll(async () => {
  const ctx = createCtx({
    config: buildConfig(parseFlags(COMMON_FLAGS, [], {})),
    log,
    exec: createExec(log),
    clock: realClock,
    secrets: new SecretRegistry(),
    signal: new AbortController().signal,
  });
  tls = await generateCertificate(ctx, 'learnflow');
  otherTls = await generateCertificate(ctx, 'learnflow');
  const dir = mkdtempSync(path.join(tmpdir(), 'lf-pgtls-'));
  chmodSync(dir, 0o755);
  const crt = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  writeFileSync(crt, tls.cert);
  writeFileSync(key, tls.key, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { execFileSync } = await import('node:child_process');
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    chownSync(crt, uid, -1);
    chownSync(key, uid, -1);
  }
  server = await startPostgres({ settings: { ssl: 'on', ssl_cert_file: `'${crt}'`, ssl_key_file: `'${key}'` } });
}, 60_000);
afterAll(async () => server?.stop());

describe('PostgreSQL TLS with the kit certificate', () => {
  it('names the Service in every form and the port-forward end, and its key never went through argv or the log', () => {
    const cert = new X509Certificate(tls.cert);
    for (const name of ['DNS:postgresql', 'DNS:postgresql.learnflow.svc.cluster.local', 'DNS:localhost', 'IP Address:127.0.0.1'])
      expect(cert.subjectAltName).toContain(name);
    expect(tls.key).toMatch(/BEGIN PRIVATE KEY/);
    expect(log.lines.join('\n')).not.toContain(tls.key.split('\n')[1]!);
  });

  it('a client with sslmode=require connects over SSL', async () => {
    const c = new pg.Client({ connectionString: `${server.url}?sslmode=no-verify` });
    await c.connect();
    const { rows } = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(rows[0]!.ssl).toBe(true);
    await c.end();
  });

  it('a client that verifies the certificate against it accepts the server at 127.0.0.1 (the kit port-forward path)', async () => {
    const c = new pg.Client({ connectionString: server.url, ssl: { ca: tls.cert, rejectUnauthorized: true } });
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    await c.end();
  });

  it('a client that verifies against another certificate is refused: every deploy gets a certificate of its own', async () => {
    const other = new pg.Client({ connectionString: server.url, ssl: { ca: otherTls.cert, rejectUnauthorized: true }, connectionTimeoutMillis: 5000 });
    await expect(other.connect()).rejects.toThrow();
    await other.end().catch(() => {});
  });

  it('the Dapr state store asks for sslmode=require when TLS is on', () => {
    const t = { host: 'postgresql.learnflow.svc.cluster.local', port: 5432, user: 'dapr_state', database: 'learnflow' };
    expect(libpqConnectionString(t, 'pw', 'require')).toContain('sslmode=require');
    expect(libpqConnectionString(t, 'pw')).toContain('sslmode=prefer');
  });
});

describe("the kit's connection follows what the server serves: on, off, on", () => {
  const port = () => server.port;
  const setSsl = async (on: boolean) => {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    await c.query(`ALTER SYSTEM SET ssl = ${on ? 'on' : 'off'}`);
    await c.query('SELECT pg_reload_conf()');
    await c.end();
    // The postmaster applies the reload asynchronously: wait until what it offers a new connection has changed.
    await waitFor(`ssl ${on ? 'on' : 'off'} after the reload`, async () => ((await serverOffersSsl('127.0.0.1', port())) === on ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  };
  const connectKitWay = async () => {
    const client = await connectPg(server.url.replace(/\?.*$/, ''), { ssl: await sslFor(tls, '127.0.0.1', port()) });
    try {
      return (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]!.ssl;
    } finally {
      await client.end();
    }
  };

  it('SSL with the kit certificate pinned while the server serves it', async () => {
    expect(await serverOffersSsl('127.0.0.1', port())).toBe(true);
    expect(await connectKitWay()).toBe(true);
  });

  it('plain once the server stops serving SSL, although the certificate Secret still exists', async () => {
    await setSsl(false);
    expect(await serverOffersSsl('127.0.0.1', port())).toBe(false);
    expect(await connectKitWay()).toBe(false);
    // What the kit did before it asked the server: the pinned CA alone, which this server now refuses.
    await expect(connectPg(server.url, { ssl: { ca: tls.cert, rejectUnauthorized: true } })).rejects.toThrow(/does not support SSL/);
  });

  it('SSL again once it is turned back on', async () => {
    await setSsl(true);
    expect(await connectKitWay()).toBe(true);
  });
});
