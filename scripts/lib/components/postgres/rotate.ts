// --rotate-secrets: a new password for the application role, set as a SCRAM verifier so the
// password never appears in server logs or pg_stat_statements, then stored in the Secret.

import { inTransaction } from '../shared/postgres-client.js';
import type pg from 'pg';
import { scramVerifier } from '../shared/postgres-scram.js';

export async function setRolePassword(client: pg.Client, role: string, password: string): Promise<void> {
  const verifier = scramVerifier(password);
  await inTransaction(client, async () => {
    // Utility statements are recorded verbatim by pg_stat_statements; this one need not be. Only when the module is
    // loaded: a failing SET LOCAL would abort the transaction.
    const { rows } = await client.query(`SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.track_utility'`);
    if (rows.length > 0) await client.query(`SET LOCAL pg_stat_statements.track_utility = off`);
    await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(verifier)}`);
  });
}
