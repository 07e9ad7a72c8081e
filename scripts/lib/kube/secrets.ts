// Reading a Kubernetes Secret: the one place the kit decodes one. A value is registered with the run's secret
// registry as it is read, so no log line, report or bundle can carry it (certificates aside: they are public).
// Only the keys read are registered: a Secret's other keys (a user name, a database name) stay printable.

import type { Kube } from './kubectl.js';
import type { SecretRegistry } from '../core/log.js';

export interface SecretValues {
  /** The decoded value under `key` ('' counts as absent). */
  get(key: string): string | undefined;
}

type SecretCtx = { kube: Kube; secrets: SecretRegistry };

/** Secret `name` in the namespace; undefined when it does not exist. */
export async function readSecret(ctx: SecretCtx, name: string): Promise<SecretValues | undefined> {
  const secret = await ctx.kube.getOptional<{ data?: Record<string, string> }>('secret', name);
  return secret ? values(ctx, secret) : undefined;
}

/** Several Secrets by name in one kubectl call; those that do not exist are absent from the map. */
export async function readSecrets(ctx: SecretCtx, names: readonly string[]): Promise<Map<string, SecretValues>> {
  const items = await ctx.kube.getNamed<SecretJson>('secret', names);
  return new Map(items.map((i) => [i.metadata.name, values(ctx, i)]));
}

interface SecretJson {
  metadata: { name: string };
  data?: Record<string, string>;
}

function values(ctx: SecretCtx, secret: { data?: Record<string, string> }): SecretValues {
  return {
    get(key) {
      const encoded = secret.data?.[key];
      if (!encoded) return undefined;
      const value = Buffer.from(encoded, 'base64').toString('utf8');
      if (!key.endsWith('.crt')) ctx.secrets.add(value);
      return value || undefined;
    },
  };
}
