// helm over the kit's exec, JSON in and out. Only flags both helm 3 and 4 share (no --wait, whose meaning changed in
// helm 4; no --atomic/--force, renamed). Readiness is the kit's job (run/rollout.ts), so a slow pull or a
// crash-looping pod is named, not a bare timeout.

import { EnvironmentError } from '../core/errors.js';
import type { Exec, ExecOptions, ExecResult } from '../core/exec.js';

/** Where a chart comes from: a chart repository (no `helm repo add` needed) or a directory. */
export type ChartRef = { kind: 'repo'; repo: string; name: string; version: string } | { kind: 'local'; path: string };

export interface UpgradeOptions {
  release: string;
  namespace: string;
  chart: ChartRef;
  valuesFiles?: readonly string[];
  /** --set-string key=value, in key order (deterministic command lines). */
  setString?: Readonly<Record<string, string>>;
  /** --set key=value (typed by helm: true/false are booleans), in key order. */
  set?: Readonly<Record<string, string | boolean>>;
  /** Bounds hooks (helm's --timeout); the kit waits for readiness itself. */
  timeoutMs?: number;
  createNamespace?: boolean;
  /** Release labels (helm 3.13+), e.g. the kit's mark that destroy-all checks before it uninstalls anything. */
  labels?: Readonly<Record<string, string>>;
}

/** The mark on releases the kit installed (helm --labels): only those does destroy-all uninstall on its own. */
export const KIT_RELEASE_LABEL = 'learnflow.dev/managed-by=learnflow-kit';

/** One entry of `helm list -o json` (helm 3 prints revision as a string, so both are accepted). */
export interface HelmRelease {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  /** name-version, e.g. dapr-1.18.3 */
  chart: string;
  app_version?: string;
  updated?: string;
}

/** Statuses left behind by an interrupted helm process: a new upgrade is refused until they are cleared. */
export const PENDING_STATUSES: readonly string[] = ['pending-install', 'pending-upgrade', 'pending-rollback'];

/** helm's duration syntax (Go): 4m30s. Whole seconds, at least 1s. */
export function helmDuration(ms: number): string {
  const total = Math.max(1, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m ? `${m}m${s}s` : `${s}s`;
}

export function chartArgs(chart: ChartRef): string[] {
  return chart.kind === 'repo' ? [chart.name, '--repo', chart.repo, '--version', chart.version] : [chart.path];
}

/** --values, --set and --set-string as an install passes them (and `helm template` renders them). */
export function valuesArgs(o: Pick<UpgradeOptions, 'valuesFiles' | 'set' | 'setString'>): string[] {
  return [
    ...(o.valuesFiles ?? []).flatMap((f) => ['--values', f]),
    ...Object.keys(o.set ?? {})
      .sort()
      .flatMap((key) => ['--set', `${key}=${String(o.set![key])}`]),
    ...Object.keys(o.setString ?? {})
      .sort()
      .flatMap((key) => ['--set-string', `${key}=${o.setString![key]}`]),
  ];
}

/** `helm upgrade --install` argv (without the global --kube-context). */
export function upgradeInstallArgs(o: UpgradeOptions): string[] {
  const args = ['upgrade', '--install', o.release, ...chartArgs(o.chart), '--namespace', o.namespace];
  if (o.createNamespace !== false) args.push('--create-namespace');
  args.push(...valuesArgs(o));
  const labels = Object.entries(o.labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (labels.length) args.push('--labels', labels.map(([k, v]) => `${k}=${v}`).join(','));
  if (o.timeoutMs !== undefined) args.push('--timeout', helmDuration(o.timeoutMs));
  return args;
}

/** "v3.16.2" / "v4.1.4" -> 3 / 4; anything else (helm 2, helm 3 before 3.13: no release --labels) is unsupported. */
export function helmMajor(version: string): 3 | 4 | undefined {
  const m = /^v?(\d+)\.(\d+)\./.exec(version.trim());
  if (m?.[1] === '4') return 4;
  return m?.[1] === '3' && Number(m[2]) >= 13 ? 3 : undefined;
}

export function parseReleases(stdout: string): HelmRelease[] {
  const raw = JSON.parse(stdout.trim() || '[]') as (Omit<HelmRelease, 'revision'> & { revision: number | string })[] | null;
  return (raw ?? []).map((r) => ({ ...r, revision: Number(r.revision) }));
}

export class Helm {
  constructor(
    private readonly exec: Exec,
    readonly context?: string,
    /** Called before a command that changes the cluster (install, upgrade, rollback, uninstall), with its --namespace. */
    private readonly onWrite?: (namespace: string | undefined) => void,
  ) {}

  /** helm with --kube-context when one was chosen. */
  run(args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    if (['upgrade', 'install', 'rollback', 'uninstall'].includes(args[0] ?? '')) {
      const at = args.indexOf('--namespace');
      this.onWrite?.(at >= 0 ? args[at + 1] : undefined);
    }
    return this.exec('helm', this.context ? ['--kube-context', this.context, ...args] : [...args], opts);
  }

  /** The client version; an EnvironmentError for anything but helm 3 or 4. */
  async version(): Promise<{ version: string; major: 3 | 4 }> {
    const r = await this.exec('helm', ['version', '--template', '{{.Version}}'], { quiet: true, timeoutMs: 10_000 });
    const version = r.stdout.trim();
    const major = helmMajor(version);
    if (!major)
      throw new EnvironmentError(`helm ${version || '?'} is not supported: the kit needs helm 3.13 or newer, or helm 4`, {
        fix: 'install helm 3.13+ or 4.x (https://helm.sh/docs/intro/install/)',
        docs: 'missing-tools',
      });
    return { version, major };
  }

  /** The release when deployed, failed or pending (explicit state flags: helm 4 dropped --all), or undefined. */
  async release(name: string, namespace: string, opts: { selector?: string } = {}): Promise<HelmRelease | undefined> {
    const selector = opts.selector ? ['--selector', opts.selector] : [];
    const r = await this.run(
      ['list', '--namespace', namespace, '--deployed', '--failed', '--pending', '--filter', `^${escapeRegex(name)}$`, ...selector, '--output', 'json'],
      { quiet: true, timeoutMs: 30_000 },
    );
    return parseReleases(r.stdout).find((x) => x.name === name);
  }

  /** The values given at install/upgrade (not the chart's defaults). {} when none. */
  async userValues(name: string, namespace: string): Promise<Record<string, unknown>> {
    const r = await this.run(['get', 'values', name, '--namespace', namespace, '--output', 'json'], { quiet: true, timeoutMs: 30_000 });
    const parsed = JSON.parse(r.stdout.trim() || 'null') as Record<string, unknown> | null;
    return parsed ?? {};
  }

  /** `helm status -o json`, for diagnostics; undefined when there is no such release. */
  async status(name: string, namespace: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.run(['status', name, '--namespace', namespace, '--output', 'json'], { quiet: true, allowFailure: true, timeoutMs: 30_000 });
    if (r.exitCode !== 0) return undefined;
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  async upgradeInstall(o: UpgradeOptions): Promise<ExecResult> {
    // The process limit leaves helm time to report its own --timeout first.
    return this.run(upgradeInstallArgs(o), { timeoutMs: (o.timeoutMs ?? 300_000) + 30_000 });
  }

  async rollback(name: string, namespace: string, timeoutMs = 120_000): Promise<ExecResult> {
    return this.run(['rollback', name, '--namespace', namespace, '--timeout', helmDuration(timeoutMs)], { timeoutMs: timeoutMs + 30_000 });
  }

  /** Callers check the release exists first (--ignore-not-found is missing from older helm 3 releases). */
  async uninstall(name: string, namespace: string, timeoutMs = 120_000): Promise<ExecResult> {
    return this.run(['uninstall', name, '--namespace', namespace, '--timeout', helmDuration(timeoutMs)], { timeoutMs: timeoutMs + 30_000 });
  }

  /** The CRDs a chart ships (helm installs them once and never upgrades them). */
  async showCrds(chart: ChartRef): Promise<string> {
    const r = await this.exec('helm', ['show', 'crds', ...chartArgs(chart)], { quiet: true, timeoutMs: 120_000 });
    return r.stdout;
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function describeRelease(r: HelmRelease): string {
  const age = r.updated ? ` (updated ${r.updated.replace(/\.\d+.*$/, '')})` : '';
  return `${r.name} revision ${r.revision}: ${r.status}, chart ${r.chart}${r.app_version ? `, app ${r.app_version}` : ''}${age}`;
}
