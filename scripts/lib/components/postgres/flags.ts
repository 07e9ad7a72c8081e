// deploy-postgres's own flags and the one place a run reads them (the common and data-plane ones are core/config.ts').

import type { Ctx } from '../../run/context.js';
import { booleanFlag, flag } from '../../core/flags.js';

export const ROTATE_FLAG = booleanFlag(
  'rotate-secrets',
  'generate a new password for learnflow_user, set it in PostgreSQL and the Secret, and restart the pod',
  {
    clusterOnly: true,
  },
);

export const TLS_FLAG = booleanFlag(
  'tls',
  'serve PostgreSQL over SSL with a certificate generated once and kept in Secret postgresql-tls (needs openssl); a re-run keeps it on',
  { clusterOnly: true },
);

export const NO_TLS_FLAG = booleanFlag(
  'no-tls',
  'stop serving SSL (a re-run without --tls or --no-tls keeps what is deployed); the certificate Secret is kept',
  {
    clusterOnly: true,
  },
);

export const PRUNE_FLAG = flag({
  name: 'prune',
  kind: 'list',
  valueName: 'SERVICE,...',
  repeatable: true,
  description: 'drop the database, login and Secret of these services, which the service databases file no longer lists (their data is lost)',
});

export interface PostgresFlags {
  tls: boolean;
  noTls: boolean;
  rotateSecrets: boolean;
  prune: string[];
}

export function postgresFlags(ctx: Pick<Ctx, 'config'>): PostgresFlags {
  const o = ctx.config.options;
  return { tls: o.on(TLS_FLAG), noTls: o.on(NO_TLS_FLAG), rotateSecrets: o.on(ROTATE_FLAG), prune: o.get(PRUNE_FLAG) ?? [] };
}
