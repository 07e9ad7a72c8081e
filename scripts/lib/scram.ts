// A SCRAM-SHA-256 verifier, as PostgreSQL stores it. ALTER ROLE ... PASSWORD '<verifier>' sets a
// password without the password itself ever reaching the server's logs or pg_stat_statements.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export function scramSha256Verifier(password: string, opts: { iterations?: number; salt?: Buffer } = {}): string {
  const iterations = opts.iterations ?? 4096;
  const salt = opts.salt ?? randomBytes(16);
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
