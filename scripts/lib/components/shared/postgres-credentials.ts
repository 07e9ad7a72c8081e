// The PostgreSQL password: generated once, kept in the Secret postgresql-credentials, reused after.

import { randomBytes } from 'node:crypto';
import type { Ctx } from '../../kube/context.js';
import { StepError } from '../../core/errors.js';

export const SECRET_NAME = 'postgresql-credentials';
export const DB_USER = 'learnflow_user';
export const DB_NAME = 'learnflow';

interface SecretJson {
  data?: Record<string, string>;
}

export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** The stored password, or undefined before the first deploy. Registered as a secret either way. */
export async function readPassword(ctx: Ctx): Promise<string | undefined> {
  const secret = await ctx.kube.getOptional<SecretJson>('secret', SECRET_NAME);
  const encoded = secret?.data?.password;
  if (!encoded) return undefined;
  const password = Buffer.from(encoded, 'base64').toString('utf8');
  ctx.secrets.add(password);
  return password;
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
