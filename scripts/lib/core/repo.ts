// The repository the kit runs from: its root, k8s/, the kit's own version (package.json) and what
// k8s/versions.json pins (with LEARNFLOW_VERSIONS_FILE laid over it for one run).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, UsageError } from './errors.js';

// This file is scripts/lib/core/repo.ts: the repository is three folders up.
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const K8S_DIR = path.join(REPO_ROOT, 'k8s');

/** The kit's name and version, from package.json (--version, the images bundle, a backup's record). */
export function kitPackage(root = REPO_ROOT): { name: string; version: string } {
  return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
}

/**
 * A JSON file whose entries replace k8s/versions.json's, key by key (`{"kafka": {"version": "4.3.1"}}`): to deploy
 * another version than the pin, e.g. the one an upgrade starts from (the upgrade tests do). Not a flag: every
 * reader of the pins (manifests, images, status) must see the same versions in one run.
 */
export const VERSIONS_FILE_ENV = 'LEARNFLOW_VERSIONS_FILE';

export function readVersions(): Versions {
  const pinned = JSON.parse(readFileSync(path.join(K8S_DIR, 'versions.json'), 'utf8')) as Versions & Record<string, object>;
  const file = process.env[VERSIONS_FILE_ENV];
  if (!file) return pinned;
  let over: Record<string, object>;
  try {
    over = JSON.parse(readFileSync(file, 'utf8')) as Record<string, object>;
  } catch (err) {
    throw new UsageError(`${VERSIONS_FILE_ENV}=${file}: ${errorMessage(err)}`, {
      fix: `point ${VERSIONS_FILE_ENV} at a JSON file like k8s/versions.json, or unset it`,
    });
  }
  for (const [k, v] of Object.entries(over)) {
    if (k.startsWith('$')) continue;
    if (!(k in pinned) || typeof v !== 'object' || v === null)
      throw new UsageError(`${VERSIONS_FILE_ENV}=${file}: "${k}" is not an entry of k8s/versions.json`, {
        fix: `give only entries of k8s/versions.json (${Object.keys(pinned)
          .filter((n) => !n.startsWith('$'))
          .join(', ')}), or unset ${VERSIONS_FILE_ENV}`,
      });
    pinned[k] = { ...pinned[k], ...v };
  }
  return pinned;
}

export interface Versions {
  kafka: { image: string; version: string };
  postgres: { image: string; version: string };
  dapr: { chart: string; repo: string; version: string };
  redis: { image: string; version: string };
  /** verify-dapr's probe Job */
  probe: { image: string; version: string };
  /** --with-zipkin's collector */
  zipkin: { image: string; version: string };
}

/** Numeric comparison of dotted versions (4.10.0 > 4.9.1); a non-numeric part compares as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}
