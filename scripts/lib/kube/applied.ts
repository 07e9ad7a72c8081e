// Whether a server-side apply would be a no-op, decided from the run's snapshot. Safe to skip only when both hold:
// - the live object has every field the kit would apply, with the same value (nobody changed or removed one);
// - it carries the digest of exactly this manifest (so no field the kit applied before and has since dropped
//   still waits for an apply to remove it).
// Anything else (a value the API server normalised, no digest) answers "apply", which costs only that apply.

import { createHash } from 'node:crypto';
import { redactSecrets, type Manifest } from './manifests.js';

/** The digest of the manifest the kit last applied to an object. */
export const APPLIED_DIGEST = 'learnflow.dev/applied-digest';

/** JSON with keys sorted at every level: the same object always gives the same text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * The manifest with its digest annotation. Secret values are left out of the digest (their keys stay in): a
 * changed value is seen by the field comparison, and the annotation then tells nothing about a password.
 */
export function stampDigest(m: Manifest): Manifest {
  const { [APPLIED_DIGEST]: _old, ...annotations } = m.metadata.annotations ?? {};
  const bare = { ...m, metadata: { ...m.metadata, annotations } };
  if (!Object.keys(annotations).length) delete (bare.metadata as { annotations?: unknown }).annotations;
  const digest = createHash('sha256')
    .update(canonical(redactSecrets([bare])[0]))
    .digest('hex')
    .slice(0, 32);
  return { ...m, metadata: { ...m.metadata, annotations: { ...annotations, [APPLIED_DIGEST]: digest } } };
}

/** A Secret's stringData as the API server stores it: merged into data, base64, stringData winning. */
function asStored(m: Manifest): Manifest {
  if (m.kind !== 'Secret' || !m.stringData) return m;
  const { stringData, ...rest } = m as Manifest & { stringData: Record<string, string>; data?: Record<string, string> };
  const encoded = Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
  return { ...rest, data: { ...(rest.data ?? {}), ...encoded } } as Manifest;
}

/** Every field of `want` is in `have` with the same value; lists match element by element, at the same length. */
export function holds(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => holds(have[i], w));
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, w]) => holds((have as Record<string, unknown>)[k], w));
  }
  return have === want;
}

/** Whether applying the stamped manifest `want` to the live object `live` would change nothing the kit owns. */
export function applyIsNoop(live: unknown, want: Manifest): boolean {
  const digest = want.metadata.annotations?.[APPLIED_DIGEST];
  const liveDigest = (live as { metadata?: { annotations?: Record<string, string> } } | undefined)?.metadata?.annotations?.[APPLIED_DIGEST];
  return digest !== undefined && liveDigest === digest && holds(live, asStored(want));
}
