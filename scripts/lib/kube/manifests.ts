// The YAML under k8s/ with {{ placeholders }}: filled in and rendered locally (so --dry-run needs no cluster), the
// ownership labels, and Secrets redacted for display.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { K8S_DIR } from '../core/repo.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export type TemplateValues = Record<string, string | number | boolean>;

/** Replaces {{ key }}; a placeholder without a value is a bug in the kit and throws (extra values are allowed). */
export function fillTemplate(text: string, values: TemplateValues, source = 'template'): string {
  return text.replace(/\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`${source}: no value for {{ ${key} }}`);
    return String(values[key]);
  });
}

export function parseManifests(text: string, source = 'manifest'): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as Manifest | null;
    if (!obj) continue;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) throw new Error(`${source}: every document needs apiVersion, kind and metadata.name`);
    out.push(obj);
  }
  return out;
}

/** Loads k8s/<relPath> and fills it in. */
export function loadManifests(relPath: string, values: TemplateValues): Manifest[] {
  const file = path.join(K8S_DIR, relPath);
  return parseManifests(fillTemplate(readFileSync(file, 'utf8'), values, `k8s/${relPath}`), `k8s/${relPath}`);
}

export function renderYaml(manifests: readonly Manifest[]): string {
  return manifests.map((m) => stringify(m, { lineWidth: 0 })).join('---\n');
}

/**
 * Ownership: every object the kit creates in a stack's namespace carries both labels, and every delete selects on
 * both (and on nothing broader), so a neighbour labelled app.kubernetes.io/name=postgresql (a Bitnami release, say)
 * is never touched. The stack is named after its namespace.
 */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'learnflow-kit';
export const STACK_LABEL = 'learnflow.dev/stack';
/** Set on a namespace only when the kit created it: destroy-all --purge deletes no namespace it did not make. */
export const CREATED_BY_LABEL = 'learnflow.dev/created-by';

export function ownerLabels(stack: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [STACK_LABEL]: stack };
}

/** The label selector of the kit's own objects in a stack, narrowed by `extra` (e.g. app.kubernetes.io/name=kafka). */
export function ownedSelector(stack: string, extra?: string): string {
  return [`${MANAGED_BY_LABEL}=${MANAGED_BY}`, `${STACK_LABEL}=${stack}`, ...(extra ? [extra] : [])].join(',');
}

/** The manifests with the ownership labels on every object of the stack's namespace (and the namespace itself). */
export function withOwnership(manifests: readonly Manifest[], stack: string): Manifest[] {
  return manifests.map((m) => {
    const inStack = m.metadata.namespace === stack || (m.kind === 'Namespace' && m.metadata.name === stack);
    if (!inStack) return m;
    return { ...m, metadata: { ...m.metadata, labels: { ...(m.metadata.labels ?? {}), ...ownerLabels(stack) } } };
  });
}

/**
 * The labels of `m` that `live` does not carry at all: all the kit adds to an object it shares (a namespace). A
 * label `live` has with another value (an admin's stricter Pod Security level) stays theirs.
 */
export function missingLabels(m: Pick<Manifest, 'metadata'>, live: Pick<Manifest, 'metadata'>): [string, string][] {
  const theirs = live.metadata.labels ?? {};
  return Object.entries(m.metadata.labels ?? {}).filter(([k]) => theirs[k] === undefined);
}

export function manifestKey(m: Pick<Manifest, 'kind' | 'metadata'>): string {
  return `${m.kind.toLowerCase()}/${m.metadata.name}`;
}

/**
 * Stands for a secret value in --dry-run output, rendered files and diagnostics. It goes into `data`, where the API
 * server expects base64 and refuses this text: a dry-run file applied by hand fails on the Secret instead of setting
 * a password to the placeholder.
 */
export const SECRET_PLACEHOLDER = '<redacted-secret-placeholder-not-base64-so-the-api-server-refuses-it>';

/** Secrets in --dry-run output and diagnostics: keys kept, every value the placeholder (in `data`). */
export function redactSecrets(manifests: readonly Manifest[]): Manifest[] {
  return manifests.map((m) => {
    if (m.kind !== 'Secret') return m;
    const keys = [...Object.keys((m.data as object | undefined) ?? {}), ...Object.keys((m.stringData as object | undefined) ?? {})];
    const { stringData: _dropped, ...rest } = m;
    return { ...rest, data: Object.fromEntries(keys.map((k) => [k, SECRET_PLACEHOLDER])) } as Manifest;
  });
}

/** One multi-document YAML stream, each object once (several components render the same Namespace). */
export function yamlStream(manifests: readonly Manifest[]): string {
  const seen = new Set<string>();
  const unique = manifests.filter((m) => {
    const key = `${m.apiVersion}/${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}
