// SCRAM-SHA-256 verifiers as PostgreSQL stores them (RFC 5802/7677). ALTER ROLE ... PASSWORD '<verifier>' sets a
// password without the password itself ever reaching the server's logs, pg_stat_activity or pg_stat_statements.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_ITERATIONS = 4096;

function scramKeys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  // SASLprep is the identity for the printable ASCII the kit generates.
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return { storedKey: createHash('sha256').update(clientKey).digest(), serverKey: createHmac('sha256', salted).update('Server Key').digest() };
}

/** PostgreSQL's stored form of a SCRAM-SHA-256 password, as CREATE/ALTER ROLE ... PASSWORD accepts it. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Whether a stored verifier (pg_authid.rolpassword) is this password's. MD5 and unknown forms say no. */
export function verifierMatches(stored: string | null | undefined, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(stored ?? '');
  if (!m) return false;
  const { storedKey, serverKey } = scramKeys(password, Buffer.from(m[2]!, 'base64'), Number(m[1]));
  const a = Buffer.concat([storedKey, serverKey]);
  const b = Buffer.concat([Buffer.from(m[3]!, 'base64'), Buffer.from(m[4]!, 'base64')]);
  return a.length === b.length && timingSafeEqual(a, b);
}
