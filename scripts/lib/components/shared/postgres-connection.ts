// A connection to the deployed PostgreSQL: --pg-url when given, else a managed port-forward
// (re-opened once if it dropped) with the password from the Secret.

import { PG_NAME, PG_POD, PG_PORT } from './postgres-topology.js';
import type pg from 'pg';
import type { Ctx, StepCtx } from '../../run/context.js';
import { connectPg, describePgUrl, serverOffersSsl, tryLogin, type LoginAttempt } from './postgres-client.js';
import { PortForward } from '../../run/port-forward.js';
import { DB_NAME, DB_USER, requirePassword } from './postgres-credentials.js';
import { readTls, TLS_SECRET, type TlsMaterial } from './postgres-tls.js';
import { loginInPod } from './postgres-pod.js';

/** Opens connections to the deployed PostgreSQL, all through one port-forward (or to --pg-url). */
export type PgConnector = () => Promise<pg.Client>;

/** What a deploy already holds (the password it applied, the certificate it serves), so it is not read back. */
export interface KnownCredentials {
  password: string;
  tls: TlsMaterial | undefined;
}

async function postgresConnector(step: StepCtx, known?: KnownCredentials): Promise<PgConnector> {
  if (step.config.pgUrl) {
    const pgUrl = step.config.pgUrl;
    step.log.info(`connecting to ${describePgUrl(pgUrl)} (--pg-url)`);
    return () => connectPg(pgUrl);
  }
  const password = known?.password ?? (await requirePassword(step));
  const forward = new PortForward(step, { resource: `svc/${PG_NAME}`, remotePort: PG_PORT });
  const port = await forward.start();
  const url = `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DB_NAME}`;
  step.log.info(`connecting through port-forward 127.0.0.1:${port} -> svc/${PG_NAME}:${PG_PORT}`);
  const tls = known ? known.tls : await readTls(step);
  const connect = async () => connectPg(url, { ssl: await sslFor(tls, '127.0.0.1', port, step) });
  return async () => {
    try {
      return await connect();
    } catch (err) {
      if (forward.alive) throw err;
      await forward.ensure();
      return connect();
    }
  };
}

/**
 * SSL as the server serves it now, asked over the wire (the Secret postgresql-tls outlives a deploy that turned TLS
 * off). When on, the kit's certificate is the trust anchor (it names 127.0.0.1, the port-forward's end); with no
 * certificate in the Secret, the connection is encrypted, unverified.
 */
export async function sslFor(tls: TlsMaterial | undefined, host: string, port: number, ctx?: Pick<Ctx, 'log'>): Promise<pg.ClientConfig['ssl']> {
  const offered = await serverOffersSsl(host, port).catch(() => undefined); // unreachable: connectPg names why
  if (offered === undefined) return tls ? { ca: tls.cert, rejectUnauthorized: true } : undefined;
  if (!offered) {
    if (tls) ctx?.log.debug(`PostgreSQL serves no SSL (TLS off); Secret ${TLS_SECRET} is kept for a later --tls`);
    return undefined;
  }
  return tls ? { ca: tls.cert, rejectUnauthorized: true } : { rejectUnauthorized: false };
}

/** One login attempt as `user` to `database` at the server the kit checks, for checks that expect a refusal. */
export type LoginProbe = (user: string, password: string, database: string) => Promise<LoginAttempt>;

/**
 * `fn` with a connection (closed after), a login probe and, with --pg-url only, `more` connections that `fn` closes.
 * Not through kubectl port-forward: a connection that ends with an error there (seen with TLS on) makes kubectl drop
 * the forward and every connection on it.
 */
export async function withPostgres<T>(
  step: StepCtx,
  fn: (client: pg.Client, probe: LoginProbe, more?: PgConnector) => Promise<T>,
  known?: KnownCredentials,
): Promise<T> {
  const connect = await postgresConnector(step, known);
  const client = await connect();
  try {
    return await fn(client, step.config.pgUrl ? (u, p, d) => tryLogin(client, u, p, d) : inPodLogin(step), step.config.pgUrl ? connect : undefined);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Logins that may be refused run inside the pod (postgres-pod.ts), never through the kit's port-forward: kubectl
 * port-forward exits when the server closes a refused connection ("lost connection to pod"), taking every other
 * connection with it.
 */
function inPodLogin(step: StepCtx): LoginProbe {
  return (user, password, database) => loginInPod(step, PG_POD, user, password, database);
}
