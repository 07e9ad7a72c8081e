// What scripts/port-forward.mts keeps open to PostgreSQL: its Service on the stack's laptop port (--pg-port moves
// it), known by its answer to an SSLRequest, and how to log in through it.

import { errorMessage } from '../../core/errors.js';
import { flag } from '../../core/flags.js';
import { NOT_ANSWERING, PROBE_TIMEOUT_MS } from '../../run/port-forward.js';
import { serverOffersSsl } from '../shared/postgres-client.js';
import { DB_NAME, DB_USER, SECRET_NAME } from '../shared/postgres-credentials.js';
import { PG_LAPTOP_SLOT, PG_NAME, PG_PORT } from '../shared/postgres-topology.js';
import type { Forwards } from '../types.js';

const PG_PORT_FLAG = flag({
  name: 'pg-port',
  kind: 'int',
  valueName: 'PORT',
  env: 'LEARNFLOW_PG_PORT',
  description: "local port for PostgreSQL (127.0.0.1:PORT -> svc/postgresql:5432); default: the stack's (5432 for the first stack on a cluster)",
  validate: (v) => (Number(v) >= 1 && Number(v) <= 65535 ? undefined : 'a port is 1-65535'),
});

export const postgresForwards: Forwards = {
  slot: PG_LAPTOP_SLOT,
  help: `127.0.0.1:${PG_LAPTOP_SLOT.port(0)} -> svc/${PG_NAME}:${PG_PORT} (--pg-port to change)`,
  lookup: `service/${PG_NAME}`,
  portFlag: PG_PORT_FLAG,
  async resolve(ctx, port) {
    const svc = await ctx.kube.getOptional<{ spec?: { selector?: Record<string, string> } }>('service', PG_NAME);
    if (!svc) {
      ctx.log.warn(`no service/${PG_NAME} in namespace ${ctx.config.namespace}: not forwarding PostgreSQL (deploy it: ./scripts/deploy-postgres.mts)`);
      return [];
    }
    const selector = Object.entries(svc.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`);
    return [{ name: PG_NAME, resource: `svc/${PG_NAME}`, remotePort: PG_PORT, localPort: port, podSelector: selector.join(',') || undefined }];
  },
  plan: (port) => [
    `127.0.0.1:${port ?? `${PG_LAPTOP_SLOT.port(0)} (the first stack's; another stack's record names its own)`} -> svc/${PG_NAME}:${PG_PORT} (if the service exists)`,
  ],
  // postgres-client.ts serverOffersSsl: 'S' or 'N' from any PostgreSQL server, before any login.
  probe: (port) =>
    serverOffersSsl('127.0.0.1', port, PROBE_TIMEOUT_MS).then(
      () => ({ answers: true, detail: 'PostgreSQL answered' }),
      (err: NodeJS.ErrnoException) => ({
        answers: false,
        detail:
          { ECONNREFUSED: NOT_ANSWERING.refused, ECONNRESET: NOT_ANSWERING.closed, ETIMEDOUT: NOT_ANSWERING.timeout }[err.code ?? ''] ??
          (/answered the SSL request/.test(err.message) ? 'something answered, but not PostgreSQL' : errorMessage(err)),
      }),
    ),
  hints: (namespace, [port]) => [
    'PostgreSQL:',
    `  export PGPASSWORD="$(kubectl get secret ${SECRET_NAME} -n ${namespace} -o jsonpath='{.data.password}' | base64 -d)"`,
    `  psql -h 127.0.0.1 -p ${port} -U ${DB_USER} -d ${DB_NAME}`,
  ],
  portTaken: (f) => ({
    guess: ' (a PostgreSQL on this machine?)',
    fix: `pick another with --pg-port 15432, or find what listens there: lsof -iTCP:${f.localPort} -sTCP:LISTEN`,
  }),
};
