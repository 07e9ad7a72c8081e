// PostgreSQL connections for the data-plane steps: bounded connect, errors a user can act on, the SSL probe.

import { connect as tcpConnect } from 'node:net';
import pg from 'pg';
import { StepError, errorMessage } from '../../core/errors.js';

export const PG_CONNECT_TIMEOUT_MS = 6_000;

/** `fn` in one transaction: committed when it returns, rolled back when it throws (or always, with `rollback`). */
export async function inTransaction<T>(client: pg.Client, fn: () => Promise<T>, opts: { rollback?: boolean } = {}): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query(opts.rollback ? 'ROLLBACK' : 'COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** host:port/db of a URL, without credentials: safe to print. */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'].includes(code ?? '') ||
    /timeout|terminated unexpectedly|Connection terminated/i.test(errorMessage(err))
  );
}

export async function connectPg(url: string, opts: { timeoutMs?: number; applicationName?: string; ssl?: pg.ClientConfig['ssl'] } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: opts.timeoutMs ?? PG_CONNECT_TIMEOUT_MS,
    application_name: opts.applicationName ?? 'learnflow-kit',
    statement_timeout: 60_000,
    ...(opts.ssl ? { ssl: opts.ssl } : {}),
  });
  client.on('error', () => {
    /* a dropped connection surfaces on the next query; do not crash the process */
  });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw explainPgError(err, url);
  }
}

export function explainPgError(err: unknown, url: string): StepError {
  const where = describePgUrl(url);
  const code = (err as { code?: string }).code;
  const msg = errorMessage(err);
  if (code === 'ECONNREFUSED')
    return new StepError(`PostgreSQL at ${where} refused the connection: nothing listens there`, {
      fix: 'check the host and port of --pg-url, or that the port-forward is up (./scripts/port-forward.mts status)',
      docs: 'postgres-unreachable',
      cause: err,
    });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new StepError(`PostgreSQL host in ${where} does not resolve`, { fix: 'check the host name in --pg-url', docs: 'postgres-unreachable', cause: err });
  if (code === '28P01' || code === '28000')
    return new StepError(`PostgreSQL at ${where} rejected the credentials: ${msg}`, {
      fix: 'check the user and password in --pg-url (the deployed password is in the Secret postgresql-credentials)',
      docs: 'postgres-unreachable',
      cause: err,
    });
  if (code === '3D000') return new StepError(`PostgreSQL at ${where}: ${msg}`, { fix: 'create the database or fix its name in --pg-url', cause: err });
  if (isConnectionError(err))
    return new StepError(`PostgreSQL at ${where} did not answer within ${PG_CONNECT_TIMEOUT_MS / 1000}s (${msg})`, {
      fix: 'check that the address is reachable from this machine',
      docs: 'postgres-unreachable',
      cause: err,
    });
  return new StepError(`PostgreSQL at ${where}: ${msg}`, { cause: err });
}

/** The outcome of one login attempt: the server's error code when it said no. */
export type LoginAttempt = { ok: true } | { ok: false; code?: string; message: string };

/** Logs in as `user` with `password` at the server (and with the TLS settings) an open client uses, then leaves. */
export async function tryLogin(like: pg.Client, user: string, password: string, database: string | undefined = like.database): Promise<LoginAttempt> {
  const c = new pg.Client({
    host: like.host,
    port: like.port,
    database,
    user,
    password,
    ssl: like.ssl,
    connectionTimeoutMillis: 5_000,
    application_name: 'learnflow-kit',
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return { ok: true };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code, message: errorMessage(err) };
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Whether the server at host:port serves SSL right now: the protocol's SSLRequest (length 8, code 80877103), which
 * the server answers with one byte, 'S' or 'N', before any authentication. The kit asks instead of assuming,
 * because the setting can change between deploys (deploy-postgres --tls / --no-tls).
 */
export function serverOffersSsl(host: string, port: number, timeoutMs = PG_CONNECT_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const done = (err: Error | undefined, value?: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => done(Object.assign(new Error(`no answer from ${host}:${port} within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    socket.once('error', (err) => done(err));
    // A broken tunnel (kubectl port-forward to a pod that is gone) accepts the connection, then closes it.
    socket.once('close', () => done(Object.assign(new Error(`${host}:${port} closed the connection without an answer`), { code: 'ECONNRESET' })));
    socket.once('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once('data', (b: Buffer) => {
      const answer = String.fromCharCode(b[0] ?? 0);
      if (answer === 'S' || answer === 'N') done(undefined, answer === 'S');
      else done(new Error(`${host}:${port} answered the SSL request with '${answer}': not a PostgreSQL server?`));
    });
  });
}
