// --rotate-secrets: a new password for the application role, set as a SCRAM verifier so the
// password never appears in server logs or pg_stat_statements, then stored in the Secret.

import type pg from 'pg';
import { scramVerifier } from '../../core/scram.js';

export async function setRolePassword(client: pg.Client, role: string, password: string): Promise<void> {
  const verifier = scramVerifier(password);
  await client.query('BEGIN');
  try {
    // Utility statements are recorded verbatim by pg_stat_statements; this one need not be.
    await client.query(`SET LOCAL pg_stat_statements.track_utility = off`).catch(() => {});
    await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(verifier)}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
