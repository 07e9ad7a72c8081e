// PostgreSQL's section of status.mts: the StatefulSet, its pod and claim, the migrations and the services'
// databases (unless --no-data), where each login is kept. Read only.

import { PG_NAME, PG_PORT, pgServiceHost } from '../shared/postgres-topology.js';
import type { LaptopPorts } from '../shared/stack-record.js';
import type { Ctx, StepCtx } from '../../run/context.js';
import { flagPath } from '../../core/config.js';
import { errorMessage } from '../../core/errors.js';
import { withPostgres } from '../shared/postgres-connection.js';
import { DB_NAME, DB_USER, SECRET_NAME } from '../shared/postgres-credentials.js';
import type { StatusSection, StatusView } from '../shared/status.js';
import { MIGRATIONS_TABLE } from './migrate.js';
import { DEFAULT_SERVICE_DATABASES, SERVICE_DATABASES_FLAG, loadServiceDatabases, type ServiceDatabase } from './service-databases.js';

/** The services' databases the page names; none when the file cannot be read (the page still shows the rest). */
function listedServices(file: string): ServiceDatabase[] {
  try {
    return loadServiceDatabases(file);
  } catch {
    return [];
  }
}

export async function postgresStatus(step: StepCtx, view: StatusView, o: { data: boolean }): Promise<StatusSection> {
  const ns = view.namespace;
  const { sts, facts, ...part } = view.statefulSet(PG_NAME, PG_NAME, {
    head: (s) => `postgres ${s.metadata.labels?.['app.kubernetes.io/version'] ?? '?'}, ${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 1} ready`,
    verify: './scripts/verify-postgres.mts',
    deploy: './scripts/deploy-postgres.mts',
  });
  let ok = part.ok;
  const services = listedServices(flagPath(step.config, SERVICE_DATABASES_FLAG, step.root, DEFAULT_SERVICE_DATABASES)!);
  if (sts && o.data) {
    try {
      await withPostgres(step, async (client) => {
        const { rows } = await client.query<{ name: string }>(`SELECT name FROM public.${MIGRATIONS_TABLE} ORDER BY name`);
        facts.push(`${rows.length} migration(s) applied: ${rows.map((r) => r.name).join(', ')}`);
        const { rows: dbs } = await client.query<{ datname: string }>('SELECT datname::text FROM pg_database WHERE datname = ANY($1)', [
          services.map((s) => s.database),
        ]);
        const present = new Set(dbs.map((d) => d.datname));
        if (services.length)
          facts.push(`service databases: ${services.map((s) => `${s.database} (${s.service}${present.has(s.database) ? '' : ': missing'})`).join(', ')}`);
        if (services.some((s) => !present.has(s.database))) ok = false;
      });
    } catch (err) {
      ok = false;
      facts.push(`database not read: ${errorMessage(err).split('\n')[0]}`);
    }
  }
  return {
    component: 'PostgreSQL',
    ok,
    facts,
    endpoints: [
      `in the cluster: ${pgServiceHost(ns)}:${PG_PORT}, database ${DB_NAME}`,
      `from the laptop: 127.0.0.1:${view.ports.postgres} while ./scripts/port-forward.mts start runs`,
    ],
    credentials: [
      `${DB_USER} (administrator): Secret ${SECRET_NAME}, key password${view.missing(SECRET_NAME)}`,
      ...services.map(
        (s) => `${s.role} (${s.service}, database ${s.database}): Secret ${s.secret}, keys url / connectionString / password${view.missing(s.secret)}`,
      ),
    ],
    next: part.next(ok),
  };
}

/** The end of deploy-all: the address, the admin login's Secret and each service's database and Secret. */
export function postgresConnect(namespace: string, ctx: Pick<Ctx, 'root'>, ports: LaptopPorts): string[] {
  return [
    `PostgreSQL  ${pgServiceHost(namespace)}:${PG_PORT}/${DB_NAME}   laptop: 127.0.0.1:${ports.postgres}   admin login: Secret ${SECRET_NAME}`,
    ...listedServices(`${ctx.root}/${DEFAULT_SERVICE_DATABASES}`).map(
      (s) => `            ${s.service}: database ${s.database}, Secret ${s.secret} (url, connectionString)`,
    ),
  ];
}
