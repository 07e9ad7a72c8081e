// kubectl over exec, JSON in and out. Never parses human tables.

import type { Exec, ExecOptions, ExecResult } from '../core/exec.js';
import { errorMessage, StepError } from '../core/errors.js';
import { CREATED_BY_LABEL, missingLabels, MANAGED_BY, manifestKey, ownedSelector, ownerLabels, withOwnership, type Manifest } from './manifests.js';
import { applyIsNoop, stampDigest } from './applied.js';
import { resourceOf, Snapshot, type SnapshotObject, type SnapshotSpec } from './snapshot.js';

export const FIELD_MANAGER = 'learnflow-kit';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

/** kubectl verbs that change objects: each drops the run's snapshot (rollout status/history only read). */
const WRITES = new Set([
  'apply',
  'create',
  'delete',
  'label',
  'annotate',
  'patch',
  'replace',
  'scale',
  'edit',
  'set',
  'taint',
  'drain',
  'cordon',
  'uncordon',
  'autoscale',
  'expose',
  'run',
]);

function writes(args: readonly string[]): boolean {
  const verb = args[0] ?? '';
  return WRITES.has(verb) || (verb === 'rollout' && !['status', 'history'].includes(args[1] ?? ''));
}

export interface ReadOptions {
  /** Ask the API server even when the run's snapshot holds the answer (a wait's later looks). */
  fresh?: boolean;
}

interface KubeObject {
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

export class Kube {
  constructor(
    private readonly exec: Exec,
    readonly namespace: string,
    readonly context?: string,
    /**
     * Shared by the run's Kubes: the cluster as it was at the run's start (snapshot.ts, dropped on its first change),
     * and what this run created (two steps applying the Namespace at once both find it absent).
     */
    private readonly shared: {
      snapshot?: Snapshot;
      created?: Map<string, string | undefined>;
      namespaceBefore?: Promise<Manifest | undefined>;
    } = {},
  ) {}

  /** The same cluster and snapshot through another exec (a step's, whose commands carry its log prefix). */
  withExec(exec: Exec): Kube {
    return new Kube(exec, this.namespace, this.context, this.shared);
  }

  private get snapshot(): Snapshot | undefined {
    return this.shared.snapshot;
  }

  private set snapshot(s: Snapshot | undefined) {
    this.shared.snapshot = s;
  }

  /** kubectl with --context when one was chosen. A command that changes objects drops the snapshot. */
  run(args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    if (writes(args)) this.snapshot = undefined;
    // An object deleted may be created again: then it is new, not the one an earlier batch made.
    if (args[0] === 'delete') this.shared.created?.clear();
    return this.kubectl(args, opts);
  }

  private kubectl(args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.exec('kubectl', this.context ? ['--context', this.context, ...args] : [...args], opts);
  }

  /**
   * Reads the kinds of `spec` in one kubectl call per namespace set (the cluster-wide kinds with -A, the stack
   * namespace's on their own), for the run's readers. Kinds from a CRD that is not installed are left out.
   */
  async takeSnapshot(spec: SnapshotSpec, opts: { timeoutMs?: number } = {}): Promise<void> {
    const read = async (kinds: readonly string[], where: string[]): Promise<{ kinds: string[]; items: SnapshotObject[] }> => {
      const args = ['get', kinds.map((k) => resourceOf(k) ?? k).join(','), ...where, '-o', 'json'];
      try {
        const r = await this.run(args, { quiet: true, timeoutMs: opts.timeoutMs });
        return { kinds: [...kinds], items: items(r.stdout) as SnapshotObject[] };
      } catch (err) {
        const builtIn = kinds.filter((k) => !resourceOf(k)?.endsWith('.dapr.io'));
        if (!isUnknownResourceType(err) || builtIn.length === kinds.length) throw err;
        return read(builtIn, where);
      }
    };
    const [everywhere, ...namespaced] = await Promise.all([
      spec.everywhere.length ? read(spec.everywhere, ['--all-namespaces']) : Promise.resolve({ kinds: [], items: [] }),
      ...spec.namespaced.map((n) => read(n.kinds, ['-n', n.namespace])),
    ]);
    this.snapshot = new Snapshot([...everywhere!.items, ...namespaced.flatMap((n) => n.items)], {
      everywhere: everywhere!.kinds,
      namespaced: spec.namespaced.map((n, i) => ({ namespace: n.namespace, kinds: namespaced[i]!.kinds })),
    });
  }

  /**
   * Something outside kubectl (helm) changed the cluster: later reads ask the API server. Given a namespace other
   * than the stack's, only it and the cluster-scoped kinds are forgotten: that is where a chart's objects land.
   */
  changed(namespace?: string): void {
    if (namespace && namespace !== this.namespace && this.snapshot) this.snapshot.forget(namespace);
    else this.snapshot = undefined;
  }

  async json<T>(args: readonly string[], opts?: ExecOptions): Promise<T> {
    const r = await this.run([...args, '-o', 'json'], { quiet: true, ...opts });
    return JSON.parse(r.stdout) as T;
  }

  /** One object or undefined when it does not exist. */
  async getOptional<T>(resource: string, name: string, namespace: string | null = this.namespace, opts: ReadOptions = {}): Promise<T | undefined> {
    const held = opts.fresh ? undefined : this.snapshot?.get<T>(resource, name, namespace);
    if (held !== undefined) return held ?? undefined;
    const r = await this.run(['get', resource, name, ...(namespace ? ['-n', namespace] : []), '--ignore-not-found', '-o', 'json'], { quiet: true });
    return r.stdout.trim() ? (JSON.parse(r.stdout) as T) : undefined;
  }

  /** True only when the run's snapshot holds the kind there and the object is not among it (no kubectl call). */
  knownAbsent(resource: string, name: string, namespace: string | null = this.namespace): boolean {
    return this.snapshot?.get(resource, name, namespace) === null;
  }

  /** Several objects of one kind by name in one call; missing ones are left out. */
  async getNamed<T extends { metadata: { name: string } }>(resource: string, names: readonly string[], namespace: string = this.namespace): Promise<T[]> {
    if (!names.length) return [];
    const held = this.snapshot?.list<T>(resource, namespace);
    if (held) return held.filter((o) => names.includes(o.metadata.name));
    const r = await this.run(['get', resource, ...names, '-n', namespace, '--ignore-not-found', '-o', 'json'], { quiet: true });
    return items(r.stdout) as unknown as T[];
  }

  async list<T>(resource: string, opts: { namespace?: string | null; selector?: string } & ReadOptions = {}): Promise<T[]> {
    const ns = opts.namespace === undefined ? this.namespace : opts.namespace;
    const held = opts.fresh ? undefined : this.snapshot?.list<T>(resource, ns, opts.selector);
    if (held) return held;
    const args = ['get', resource, ...(ns ? ['-n', ns] : ['--all-namespaces']), ...(opts.selector ? ['-l', opts.selector] : [])];
    const r = await this.json<{ items: T[] }>(args);
    return r.items;
  }

  /**
   * What a server-side apply of these manifests would change, from the API server's own dry-run (kubectl diff):
   * the unified diff (Secret values masked by kubectl) and whether there is any. Changes nothing.
   */
  async diff(manifests: readonly Manifest[], opts: { timeoutMs?: number } = {}): Promise<{ changed: boolean; text: string }> {
    if (manifests.length === 0) return { changed: false, text: '' };
    const { rest, missing } = await this.shareNamespace(manifests);
    // The labels a deploy would add to a namespace that exists: kubectl label, not an apply kubectl diff could show.
    const labels = missing?.length ? `namespace/${this.namespace}: would add labels ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}\n` : '';
    if (rest.length === 0) return { changed: labels !== '', text: labels };
    const input = this.desired(rest)
      .map((m) => JSON.stringify(m))
      .join('\n');
    // Exit 0: no differences; 1: differences; anything else: kubectl or the diff program failed.
    const r = await this.run(['diff', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-'], {
      input,
      quiet: true,
      allowFailure: true,
      timeoutMs: opts.timeoutMs,
    });
    if (r.exitCode !== 0 && r.exitCode !== 1)
      throw new StepError(`kubectl diff failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').pop() ?? ''}`, {
        fix: 'install a diff program (the one that kubectl diff calls: diff, or what $KUBECTL_EXTERNAL_DIFF names); --dry-run shows what would be applied without it',
      });
    return { changed: r.exitCode === 1 || labels !== '', text: labels + r.stdout };
  }

  /** What the kit applies: the ownership labels, and the digest a later run compares against (applied.ts). */
  private desired(manifests: readonly Manifest[]): Manifest[] {
    return withOwnership(manifests, this.namespace).map(stampDigest);
  }

  private isOwnNamespace(m: Pick<Manifest, 'kind' | 'metadata'>): boolean {
    return m.kind === 'Namespace' && m.metadata.name === this.namespace;
  }

  /**
   * The stack's Namespace is shared ground: once it exists the kit only adds the labels it lacks (kubectl label) and
   * never applies it again. A forced apply would lower an admin's stricter Pod Security level and take over (and drop)
   * labels set by a client-side `kubectl apply`. Returns the batch without a Namespace that existed at the run's
   * start, and the labels it lacks (undefined: the batch creates it, or has none). One look per run.
   */
  private async shareNamespace(manifests: readonly Manifest[]): Promise<{ rest: readonly Manifest[]; missing?: [string, string][] }> {
    const ours = manifests.find((m) => this.isOwnNamespace(m));
    if (!ours) return { rest: manifests };
    const before = await (this.shared.namespaceBefore ??= this.getOptional<Manifest>('namespace', this.namespace, null));
    if (!before) return { rest: manifests };
    return { rest: manifests.filter((m) => !this.isOwnNamespace(m)), missing: missingLabels(withOwnership([ours], this.namespace)[0]!, before) };
  }

  /** Adds the labels an existing stack namespace lacks (shareNamespace), and remembers it has them now. */
  private async labelNamespace(missing: readonly [string, string][]): Promise<ApplyOutcome> {
    if (!missing.length) return 'unchanged';
    await this.run(['label', 'namespace', this.namespace, ...missing.map(([k, v]) => `${k}=${v}`)], { quiet: true });
    const before = (await this.shared.namespaceBefore)!;
    const labels = { ...before.metadata.labels, ...Object.fromEntries(missing) };
    this.shared.namespaceBefore = Promise.resolve({ ...before, metadata: { ...before.metadata, labels } });
    return 'configured';
  }

  /**
   * Server-side apply, reporting per object created, configured or unchanged (a no-op apply keeps resourceVersion).
   * Runs nothing when the snapshot shows every object as this batch would leave it (applied.ts).
   */
  async apply(manifests: readonly Manifest[], opts: { timeoutMs?: number } = {}): Promise<Record<string, ApplyOutcome>> {
    if (manifests.length === 0) return {};
    const shared = await this.shareNamespace(manifests);
    const ns = shared.missing && { [`namespace/${this.namespace}`]: await this.labelNamespace(shared.missing) };
    if (shared.rest.length === 0) return { ...ns };
    const desired = this.desired(shared.rest);
    const held = this.held(desired);
    if (held && desired.every((m, i) => applyIsNoop(held[i], m)))
      return { ...ns, ...Object.fromEntries(desired.map((m) => [manifestKey(m), 'unchanged' as const])) };
    const input = desired.map((m) => JSON.stringify(m)).join('\n');
    const before = held ? held.filter((o): o is KubeObject => o !== undefined) : await this.liveObjects(input, opts.timeoutMs);
    const versions = new Map(before.map((o) => [manifestKey(o), o.metadata.resourceVersion]));
    const after = await this.kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-', '-o', 'json'], {
      input,
      timeoutMs: opts.timeoutMs,
    }).catch((err: unknown) => {
      // A failed batch may have applied some of its objects.
      this.snapshot = undefined;
      throw err;
    });
    const outcome: Record<string, ApplyOutcome> = { ...ns };
    const created = (this.shared.created ??= new Map());
    for (const o of items(after.stdout)) {
      const key = manifestKey(o);
      const id = `${key}|${o.metadata.namespace ?? ''}`;
      // Absent before this batch, but another batch of the run made it meanwhile: compare with what that one made.
      const prev = versions.get(key) ?? created.get(id);
      outcome[key] = prev === undefined ? 'created' : prev === o.metadata.resourceVersion ? 'unchanged' : 'configured';
      if (outcome[key] === 'created') created.set(id, o.metadata.resourceVersion);
    }
    if (Object.values(outcome).some((o) => o !== 'unchanged')) this.snapshot = undefined;
    // A namespace the kit made carries a mark of that (not re-applied: a namespace that existed before never gets it),
    // so destroy-all --purge deletes only namespaces it created.
    if (outcome[`namespace/${this.namespace}`] === 'created') {
      await this.run(['label', 'namespace', this.namespace, `${CREATED_BY_LABEL}=${MANAGED_BY}`, '--overwrite'], { quiet: true, timeoutMs: opts.timeoutMs });
    }
    return outcome;
  }

  /** The live objects a batch names, one per manifest (undefined: absent), when the snapshot holds all their kinds. */
  private held(manifests: readonly Manifest[]): (KubeObject | undefined)[] | undefined {
    const snapshot = this.snapshot;
    if (!snapshot) return undefined;
    const got = manifests.map((m) => {
      const resource = resourceOf(m.kind);
      return resource === undefined ? undefined : snapshot.get<KubeObject>(resource, m.metadata.name, m.metadata.namespace ?? this.namespace);
    });
    // undefined: not held; null: held, and absent.
    if (got.some((o) => o === undefined)) return undefined;
    return got.map((o) => o ?? undefined);
  }

  /** The live objects a batch names, from the API server. */
  private async liveObjects(input: string, timeoutMs?: number): Promise<KubeObject[]> {
    const r = await this.kubectl(['get', '-f', '-', '--ignore-not-found', '-o', 'json'], { input, quiet: true, timeoutMs });
    return items(r.stdout);
  }
}

function items(stdout: string): KubeObject[] {
  if (!stdout.trim()) return [];
  // `-f -` with several documents may print one List or several objects back to back.
  const out: KubeObject[] = [];
  for (const chunk of splitJsonStream(stdout)) {
    const parsed = JSON.parse(chunk) as KubeObject & { items?: KubeObject[] };
    if (parsed.kind === 'List' || Array.isArray(parsed.items)) out.push(...(parsed.items ?? []));
    else out.push(parsed);
  }
  return out;
}

/** Splits `{...}{...}` / `{...}\n{...}` into top-level JSON texts. */
export function splitJsonStream(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(text.slice(start, i + 1));
        start = -1;
      }
    }
  }
  return out;
}

type StepLike = { kube: Kube; change(key: string, what: string): void; log: { info(m: string): void } };

/** A resource type the cluster does not know (the Dapr CRDs before Dapr is installed, or after they were removed). */
export function isUnknownResourceType(err: unknown): boolean {
  return /doesn't have a resource type|the server could not find the requested resource/.test(errorMessage(err));
}

/**
 * The names (kind.group/name, as `kubectl get -o name` prints them) of the kit's own objects of these kinds in the
 * stack's namespace: the selector is always narrowed to the ownership labels. Unknown kinds have none.
 */
export async function ownedNames(kube: Kube, kinds: string, selector: string): Promise<string[]> {
  try {
    const r = await kube.run(['get', kinds, '-n', kube.namespace, '-l', ownedSelector(kube.namespace, selector), '-o', 'name'], { quiet: true });
    return r.stdout.split('\n').filter(Boolean);
  } catch (err) {
    if (!isUnknownResourceType(err)) throw err;
    const known = await Promise.all(
      kinds.split(',').map((k) => ownedNames(kube, k, selector).catch((e: unknown) => (isUnknownResourceType(e) ? [] : Promise.reject(e)))),
    );
    return kinds.includes(',') ? known.flat() : [];
  }
}

/** Deletes objects by name in the stack's namespace, recording what went. */
export async function deleteNamed(step: StepLike, names: readonly string[]): Promise<void> {
  if (!names.length) return;
  const r = await step.kube.run(['delete', ...names, '-n', step.kube.namespace, '--ignore-not-found', '--wait=false', '-o', 'name']);
  for (const name of r.stdout.split('\n').filter(Boolean)) {
    step.change(name, 'deleted');
    step.log.info(`${name} deleted`);
  }
}

/** Deletes the kit's own objects of these kinds matching a selector (never anything without the ownership labels). */
export async function deleteBySelector(step: StepLike, kinds: string, selector: string): Promise<void> {
  await deleteNamed(step, await ownedNames(step.kube, kinds, selector));
}

/**
 * Claims a StatefulSet made from its volumeClaimTemplates get the ownership labels by name (a StatefulSet's
 * templates cannot change once it exists, so the labels cannot go there for stacks deployed before), and any
 * annotations asked for. Claims in `known` that already carry them all are left alone (no kubectl call).
 */
export async function labelClaims(
  kube: Kube,
  names: readonly string[],
  opts: {
    annotations?: Record<string, string>;
    known?: readonly { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }[];
  } = {},
): Promise<void> {
  const labels = ownerLabels(kube.namespace);
  const annotations = opts.annotations ?? {};
  const has = (have: Record<string, string> | undefined, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have?.[k] === v);
  const known = new Map(opts.known?.map((c) => [c.metadata.name, c.metadata]));
  const unlabelled = names.filter((n) => !has(known.get(n)?.labels, labels));
  const unannotated = names.filter((n) => !has(known.get(n)?.annotations, annotations));
  const pairs = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${k}=${v}`);
  if (unlabelled.length)
    await kube.run(['label', 'pvc', ...unlabelled, '-n', kube.namespace, ...pairs(labels), '--overwrite'], { quiet: true, allowFailure: true });
  if (unannotated.length && Object.keys(annotations).length)
    await kube.run(['annotate', 'pvc', ...unannotated, '-n', kube.namespace, ...pairs(annotations), '--overwrite'], { quiet: true, allowFailure: true });
}
