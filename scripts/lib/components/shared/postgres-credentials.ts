// The PostgreSQL password: generated once, kept in the Secret postgresql-credentials, reused after.

import { randomBytes } from 'node:crypto';
import type { Ctx } from '../../run/context.js';
import { StepError } from '../../core/errors.js';
import { readSecret } from '../../kube/secrets.js';

export const SECRET_NAME = 'postgresql-credentials';
export const DB_USER = 'learnflow_user';
export const DB_NAME = 'learnflow';

export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** The stored password (registered as a secret), or undefined before the first deploy. */
export async function readPassword(ctx: Ctx): Promise<string | undefined> {
  return (await readSecret(ctx, SECRET_NAME))?.get('password');
}

export async function passwordForDeploy(ctx: Ctx): Promise<{ password: string; generated: boolean }> {
  const existing = await readPassword(ctx);
  if (existing) return { password: existing, generated: false };
  const password = generatePassword();
  ctx.secrets.add(password);
  return { password, generated: true };
}

export async function requirePassword(ctx: Ctx): Promise<string> {
  const password = await readPassword(ctx);
  if (!password) {
    throw new StepError(`Secret ${SECRET_NAME} not found in namespace ${ctx.config.namespace}: PostgreSQL is not deployed there`, {
      fix: `./scripts/deploy-postgres.mts --namespace ${ctx.config.namespace}`,
    });
  }
  return password;
}
