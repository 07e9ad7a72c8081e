// --rotate-secrets: a new password for the application role, set as a SCRAM verifier so the
// password never appears in server logs or pg_stat_statements, then stored in the Secret.

import { inTransaction } from '../shared/postgres-client.js';
import type pg from 'pg';
import { scramVerifier } from '../shared/postgres-scram.js';
import { ident, literal } from '../shared/postgres-roles.js';
import { PG_NAME, POSTGRES_SELECTOR } from '../shared/postgres-topology.js';
import type { StepCtx } from '../../run/context.js';
import { errorMessage, StepError } from '../../core/errors.js';
import { waitForWorkload } from '../../run/rollout.js';
import { DB_USER, generatePassword, SECRET_NAME } from '../shared/postgres-credentials.js';
import { renderPostgres } from './manifests.js';

export async function setRolePassword(client: pg.Client, role: string, password: string): Promise<void> {
  const verifier = scramVerifier(password);
  await inTransaction(client, async () => {
    // Utility statements are recorded verbatim by pg_stat_statements; this one need not be. Only when the module is
    // loaded: a failing SET LOCAL would abort the transaction.
    const { rows } = await client.query(`SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.track_utility'`);
    if (rows.length > 0) await client.query(`SET LOCAL pg_stat_statements.track_utility = off`);
    await client.query(`ALTER ROLE ${ident(role)} PASSWORD ${literal(verifier)}`);
  });
}

export async function rotateCredentials(step: StepCtx, client: pg.Client): Promise<void> {
  const ns = step.config.namespace;
  const password = generatePassword();
  step.secrets.add(password);
  await setRolePassword(client, DB_USER, password);
  // The Secret follows at once: a failure between the two is reported with the way back.
  try {
    await step.kube.apply(renderPostgres(ns, password).filter((m) => m.kind === 'Secret'));
  } catch (err) {
    throw new StepError(`the new password is set in PostgreSQL but the Secret ${SECRET_NAME} could not be updated: ${errorMessage(err)}`, {
      fix: `re-run ./scripts/deploy-postgres.mts --rotate-secrets --namespace ${ns} once the cluster answers`,
    });
  }
  step.change(`secret/${SECRET_NAME}`, 'rotated');
  await step.kube.run(['rollout', 'restart', `statefulset/${PG_NAME}`, '-n', ns]);
  await waitForWorkload(step, { kind: 'statefulset', name: PG_NAME, selector: POSTGRES_SELECTOR });
  step.log.ok(
    `rotated the password of ${DB_USER}; Secret ${SECRET_NAME} updated and statefulset/postgresql restarted (apps that read the Secret at start need a restart too)`,
  );
}
