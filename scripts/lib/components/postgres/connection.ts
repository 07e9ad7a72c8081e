// A connection to the deployed PostgreSQL: --pg-url when given, else a managed port-forward
// (re-opened once if it dropped) with the password from the Secret.

import type pg from 'pg';
import type { StepCtx } from '../../context.js';
import { connectPg, describePgUrl } from '../../pg.js';
import { PortForward } from '../../port-forward.js';
import { DB_NAME, DB_USER, requirePassword } from './credentials.js';
import { readTls } from './tls.js';

export async function openPostgres(step: StepCtx): Promise<pg.Client> {
  if (step.config.pgUrl) {
    step.log.info(`connecting to ${describePgUrl(step.config.pgUrl)} (--pg-url)`);
    return connectPg(step.config.pgUrl);
  }
  const password = await requirePassword(step);
  const forward = new PortForward(step, { resource: 'svc/postgresql', remotePort: 5432 });
  const port = await forward.start();
  const url = `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DB_NAME}`;
  step.log.info(`connecting through port-forward 127.0.0.1:${port} -> svc/postgresql:5432`);
  // With --tls the server's own certificate is the trust anchor; it names 127.0.0.1 for this path.
  const tls = await readTls(step);
  const ssl = tls ? { ca: tls.cert, rejectUnauthorized: true } : undefined;
  try {
    return await connectPg(url, { ssl });
  } catch (err) {
    if (forward.alive) throw err;
    await forward.ensure();
    return connectPg(url, { ssl });
  }
}

export async function withPostgres<T>(step: StepCtx, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await openPostgres(step);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
