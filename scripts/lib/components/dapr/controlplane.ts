// The shared control plane in dapr-system: `helm upgrade --install` (skipped when deployed at the same chart and
// values; an upgrade applies the chart's CRDs itself), one wait naming every workload not ready, its removal.
// Also the gate on the components of Dapr's dependsOn.

import { isDeepStrictEqual } from 'node:util';
import { perRun, type Ctx, type StepCtx } from '../../run/context.js';
import type { PodJson } from '../../kube/pod-diagnosis.js';
import { EnvironmentError, errorMessage, StepError } from '../../core/errors.js';
import {
  chartArgs,
  describeRelease,
  Helm,
  KIT_RELEASE_LABEL,
  PENDING_STATUSES,
  upgradeInstallArgs,
  valuesArgs,
  type HelmRelease,
  type UpgradeOptions,
} from '../../kube/helm.js';
import { isUnknownResourceType } from '../../kube/kubectl.js';
import { formatCommand } from '../../core/exec.js';
import { compareVersions } from '../../core/repo.js';
import { formatDuration } from '../../core/duration.js';
import { parseManifests, redactSecrets, STACK_LABEL, yamlStream } from '../../kube/manifests.js';
import { waitForWorkloads, workloadStates, type WorkloadJson, type WorkloadRef, type WorkloadState } from '../../run/rollout.js';
import type { ClusterWidePlan, Component } from '../types.js';
import { DAPR_NAMESPACE, RELEASE, type DaprSettings } from './settings.js';
import { CONTROL_PLANE, desiredValues, flattenValues, loadValues, SCHEDULER_OFF, type ControlPlaneWorkload } from './values.js';
import { applyRecorded } from '../../run/steps.js';

/** Helm for a step; its installs, upgrades and removals tell the run's snapshot which namespace changed under it. */
export function helmFor(step: Pick<StepCtx, 'exec' | 'config' | 'kube'>): Helm {
  return new Helm(step.exec, step.config.context, (namespace) => step.kube.changed(namespace));
}

export function upgradeOptions(s: DaprSettings, timeoutMs?: number): UpgradeOptions {
  const [key, value] = KIT_RELEASE_LABEL.split('=') as [string, string];
  return {
    release: RELEASE,
    namespace: DAPR_NAMESPACE,
    chart: s.chart.ref,
    valuesFiles: [s.valuesPath],
    setString: s.chart.setString,
    ...(s.scheduler ? {} : { set: SCHEDULER_OFF }),
    timeoutMs,
    createNamespace: true,
    labels: { [key]: value },
  };
}

/** The command a user could paste (the plan's line). */
export function helmCommandLine(s: DaprSettings, context?: string): string {
  const args = upgradeInstallArgs(upgradeOptions(s));
  return formatCommand('helm', context ? ['--kube-context', context, ...args] : args);
}

export type InstallOutcome = 'created' | 'configured' | 'unchanged';

/** Whether the release needs an upgrade, and why. Pure. */
export function releaseUpToDate(
  release: HelmRelease | undefined,
  chartLabel: string,
  current: Record<string, unknown> | undefined,
  desired: Record<string, unknown>,
): { upToDate: boolean; why: string } {
  if (!release) return { upToDate: false, why: 'not installed' };
  if (release.status !== 'deployed') return { upToDate: false, why: `release is ${release.status}` };
  if (release.chart !== chartLabel) return { upToDate: false, why: `chart ${release.chart} installed, ${chartLabel} wanted` };
  if (!current || !isDeepStrictEqual(current, desired)) return { upToDate: false, why: 'values differ from k8s/dapr/values.yaml' };
  return { upToDate: true, why: `${chartLabel} deployed with the same values` };
}

/**
 * The Dapr version a live release runs: its global.tag (what the kit sets for a chart from the dapr/dapr sources,
 * whose Chart.yaml says 0.0.0), else the chart's version; undefined when neither says.
 */
export function liveDaprVersion(live: LiveControlPlane): string | undefined {
  const tag = (live.values?.global as { tag?: unknown } | undefined)?.tag;
  if (typeof tag === 'string' && VERSION.test(tag)) return tag;
  const chart = /-(\d+\.\d+\.\d+)$/.exec(live.release?.chart ?? '')?.[1];
  if (chart && chart !== '0.0.0') return chart;
  const app = live.release?.app_version;
  return app && VERSION.test(app) && app !== '0.0.0' ? app : undefined;
}

const VERSION = /^\d+\.\d+\.\d+$/;

/**
 * Dapr 1.18's sentry writes an Ed25519-keyed CA into the dapr-trust-bundle Secret; a sentry older than 1.17.7 cannot
 * parse it and crash-loops, so no sidecar gets a new certificate (dapr/dapr docs/release_notes/v1.18.0.md,
 * "Downgrading to Earlier Versions"; dapr/dapr#9904). Upward from any 1.17 nothing else is needed there: 1.18's
 * sentry reads the old ECDSA bundle, and the new CRDs (MCPServer, WorkflowAccessPolicy) come with the kit's CRD apply.
 */
export const ROLLBACK_FLOOR = '1.17.7';

/** Why moving from one version to the other would break the control plane; undefined when it would not. */
export function unsafeDowngrade(from: string | undefined, to: string): string | undefined {
  if (!from || compareVersions(from, '1.18.0') < 0 || compareVersions(to, ROLLBACK_FLOOR) >= 0) return undefined;
  return `Dapr 1.18 keeps an Ed25519 CA in the dapr-trust-bundle Secret, which the sentry of versions before ${ROLLBACK_FLOOR} cannot read (it crash-loops and no sidecar gets a certificate)`;
}

/** Refuses, before any change, a move from 1.18 or later to a version whose sentry cannot read the trust bundle. */
export function refuseUnsafeDowngrade(from: string | undefined, to: string): void {
  const why = unsafeDowngrade(from, to);
  if (!why) return;
  throw new StepError(`refusing dapr ${from} -> ${to}: ${why}. Nothing was changed`, {
    fix: `go through ${ROLLBACK_FLOOR} first: ./scripts/install-dapr.mts --dapr-version ${ROLLBACK_FLOOR}, then --dapr-version ${to} (docs/dapr.md#upgrades)`,
  });
}

/** "dapr 1.17.5 -> 1.18.3" when the release runs another version than the one wanted; undefined otherwise. */
const versionChange = (from: string | undefined, to: string) => (from && from !== to ? `dapr ${from} -> ${to}` : undefined);

/** --diff: what an install now would change in the release (chart and values, key by key); [] when up to date. */
export async function controlPlaneChanges(step: StepCtx, s: DaprSettings): Promise<string[]> {
  const desired = chartValues(s);
  const live = await liveControlPlane(step);
  const { release, values } = live;
  if (!release) return [`not installed: would install ${s.chart.chartLabel} with ${flattenValues(desired).join(', ')}`];
  const current = release.status === 'deployed' ? values : undefined;
  if (releaseUpToDate(release, s.chart.chartLabel, current, desired).upToDate) return [];
  const changes: string[] = [];
  const upgrade = versionChange(liveDaprVersion(live), s.version);
  if (upgrade) {
    const refused = unsafeDowngrade(liveDaprVersion(live), s.version);
    changes.push(
      refused
        ? `${upgrade}: would be refused (${refused})`
        : `${upgrade}: the chart's CRDs applied, then helm upgrade; running apps keep their sidecars until restarted`,
    );
  }
  if (release.status !== 'deployed') changes.push(`release is ${release.status}: would clear it, then upgrade`);
  if (release.chart !== s.chart.chartLabel) changes.push(`chart: ${release.chart} -> ${s.chart.chartLabel}`);
  const was = new Map(flattenValues(current ?? {}).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const will = new Map(flattenValues(desired).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  for (const [k, v] of will) if (was.get(k) !== v) changes.push(`${k}: ${was.get(k) ?? '(unset)'} -> ${v}`);
  for (const [k, v] of was) if (!will.has(k)) changes.push(`${k}: ${v} -> (unset)`);
  return changes.length ? changes : ['values differ (same keys, other types)'];
}

/** The values the release is installed with: k8s/dapr/values.yaml, the chart's --set-string, --no-scheduler's --set. */
export function chartValues(s: DaprSettings): Record<string, unknown> {
  return desiredValues(loadValues(s.valuesPath), { ...s.chart.setString, ...(s.scheduler ? {} : SCHEDULER_OFF) });
}

/** The release as the run found it and the values it was given: what the shared control plane runs with. */
export interface LiveControlPlane {
  release?: HelmRelease;
  values?: Record<string, unknown>;
}

/** Read once per run: the settings, the install and the checks share it. */
export function liveControlPlane(step: Pick<StepCtx, 'exec' | 'config' | 'kube'>): Promise<LiveControlPlane> {
  if (step.config.noCluster || step.config.dryRun) return Promise.resolve({});
  return perRun(step, 'dapr release', async () => {
    const helm = helmFor(step);
    // Helm stores a release as Secrets in its namespace: no dapr-system in the run's snapshot, no release.
    const release = step.kube.knownAbsent('namespace', DAPR_NAMESPACE, null) ? undefined : await helm.release(RELEASE, DAPR_NAMESPACE);
    // Any state: a first install that failed at the wait still says what it was asked for.
    return { release, values: release ? await helm.userValues(RELEASE, DAPR_NAMESPACE) : undefined };
  });
}

/** The shared settings a live release holds (global.scheduler.enabled: off only when set to false). */
export function liveSettings(live: LiveControlPlane): { scheduler?: boolean } {
  if (!live.values) return {};
  const scheduler = (live.values.global as { scheduler?: { enabled?: unknown } } | undefined)?.scheduler?.enabled;
  return { scheduler: scheduler !== false && scheduler !== 'false' };
}

export async function installControlPlane(step: StepCtx, s: DaprSettings): Promise<InstallOutcome> {
  const helm = helmFor(step);
  const desired = chartValues(s);
  const live = await liveControlPlane(step);
  let release = live.release;
  if (release) step.log.info(`helm release ${describeRelease(release)}`);

  if (release && PENDING_STATUSES.includes(release.status)) {
    release = await recoverPending(step, helm, release);
  }
  const current = release?.status === 'deployed' ? (release === live.release ? live.values : await helm.userValues(RELEASE, DAPR_NAMESPACE)) : undefined;
  const verdict = releaseUpToDate(release, s.chart.chartLabel, current, desired);
  if (verdict.upToDate) {
    step.log.ok(`helm release ${RELEASE} unchanged: ${verdict.why}`);
    step.change(`helm release ${RELEASE}`, 'unchanged');
    return 'unchanged';
  }
  const from = release ? liveDaprVersion(release === live.release ? live : { release, values: current }) : undefined;
  refuseUnsafeDowngrade(from, s.version);
  const upgrade = versionChange(from, s.version);
  step.log.info(`${upgrade ? `upgrading ${upgrade}, ` : ''}installing ${s.chart.describe}: ${verdict.why}`);
  if (release) await warnOtherStacks(step);
  const started = step.clock.now();

  // helm installs crds/ on the first install only; an upgrade must bring the new version's CRDs itself.
  if (release?.status === 'deployed') await applyRecorded(step, parseManifests(await helm.showCrds(s.chart.ref), 'helm show crds'), { logUnchanged: false });

  const timeoutMs = Math.max(30_000, step.deadline.remaining());
  await helm.upgradeInstall(upgradeOptions(s, timeoutMs));
  const outcome: InstallOutcome = release ? 'configured' : 'created';
  step.change(`helm release ${RELEASE}`, outcome);
  const took = formatDuration(step.clock.now() - started);
  step.log.ok(
    `helm release ${RELEASE} ${outcome === 'created' ? 'installed' : 'upgraded'} (${upgrade ?? `${s.chart.chartLabel}, images ${s.version}`}) in ${took}`,
  );
  if (upgrade) {
    // The control plane does not restart the sidecars: each app keeps the daprd it started with (v1.18.0 release notes).
    step.log.info(`running Dapr apps keep their ${from} sidecars until restarted: kubectl rollout restart deployment -n ${step.config.namespace}`);
  }
  return outcome;
}

/** The control plane is the cluster's, not the stack's: an upgrade of it names the other stacks it changes too. */
async function warnOtherStacks(step: StepCtx): Promise<void> {
  const namespaces = await step.kube.list<{ metadata: { name: string } }>('namespace', { namespace: null, selector: STACK_LABEL });
  const others = namespaces.map((n) => n.metadata.name).filter((n) => n !== step.config.namespace);
  if (others.length) step.log.warn(`the Dapr control plane is shared: this upgrade changes it for the stacks in ${others.join(', ')} too`);
}

/**
 * An interrupted helm (Ctrl-C, a killed terminal) leaves the release pending-*, and helm refuses every later upgrade.
 * On a laptop that is almost always the kit's own run, so it clears it: an unfinished first install is uninstalled,
 * an upgrade rolled back.
 */
async function recoverPending(step: StepCtx, helm: Helm, release: HelmRelease): Promise<HelmRelease | undefined> {
  step.log.warn(`helm release ${RELEASE} is ${release.status}: an earlier helm run was interrupted; clearing it`);
  if (release.status === 'pending-install' && release.revision <= 1) {
    await helm.uninstall(RELEASE, DAPR_NAMESPACE);
    step.change(`helm release ${RELEASE} (interrupted install)`, 'deleted');
    return undefined;
  }
  await helm.rollback(RELEASE, DAPR_NAMESPACE);
  step.change(`helm release ${RELEASE} (interrupted ${release.status.replace('pending-', '')})`, 'rolled back');
  return helm.release(RELEASE, DAPR_NAMESPACE);
}

/** The control-plane workloads as the readiness wait sees them: their pods carry `app: <name>`. */
const refsOf = (workloads: readonly ControlPlaneWorkload[]) =>
  workloads.map((w) => ({ kind: w.kind, name: w.name, selector: `app=${w.name}`, namespace: DAPR_NAMESPACE }));

/** Readiness of each control-plane workload from one `kubectl get deployment,statefulset,pod -n dapr-system`. */
export function controlPlaneStates(items: readonly (WorkloadJson | PodJson)[], workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE) {
  return workloadStates(items, refsOf(workloads));
}

const CONTROL_PLANE_LIST = { kinds: 'deployment,statefulset,pod', namespace: DAPR_NAMESPACE };

/** Waits for the workloads together; a pod that will not heal stops it at once, naming every one not ready. */
export async function waitForControlPlane(step: StepCtx, workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE): Promise<void> {
  await waitForWorkloads(step, refsOf(workloads), {
    what: `the Dapr control plane in ${DAPR_NAMESPACE}`,
    list: CONTROL_PLANE_LIST,
    stuck: (pod, states) =>
      new StepError(
        `the Dapr control plane cannot become ready: pod ${pod.pod} is ${pod.state}; not ready: ${states
          .filter((s) => !s.ready)
          .map((s) => `${s.ref.name} ${s.state}`)
          .join('; ')}`,
        { fix: pod.fix?.replace(/-n learnflow\b/g, `-n ${DAPR_NAMESPACE}`), docs: pod.docs },
      ),
  });
  step.log.ok(`Dapr control plane ready: ${workloads.map((w) => w.name.replace(/^dapr-/, '')).join(', ')}`);
}

/** For verify: one check per workload. */
export async function controlPlaneChecks(step: StepCtx, workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE): Promise<void> {
  const { states } = controlPlaneStates(await step.kube.list<WorkloadJson | PodJson>(CONTROL_PLANE_LIST.kinds, { namespace: DAPR_NAMESPACE }), workloads);
  for (const s of states) step.check(`${s.ref.name} ready`, s.ready, s.state);
}

/** --dry-run: the chart's own, cluster-wide objects (CRDs, ClusterRoles, the injector webhook), via `helm template`. */
export async function templateControlPlane(ctx: Ctx, s: DaprSettings): Promise<{ title: string; yaml: string } | { title: string; skipped: string }> {
  const title = `the Dapr chart's objects (${s.chart.describe}), as helm would install them`;
  // The values an install passes, --no-scheduler's included.
  const values = valuesArgs(upgradeOptions(s));
  try {
    const r = await ctx.exec('helm', ['template', RELEASE, ...chartArgs(s.chart.ref), '--namespace', DAPR_NAMESPACE, '--include-crds', ...values], {
      quiet: true,
      timeoutMs: 60_000,
    });
    // The chart's Secrets (certificates sentry fills in) are shown like the kit's: keys only.
    return { title, yaml: yamlStream(redactSecrets(parseManifests(r.stdout, 'helm template'))) };
  } catch (err) {
    return { title, skipped: err instanceof EnvironmentError ? 'helm is not installed' : `helm template failed: ${errorMessage(err).split('\n')[0]}` };
  }
}

/**
 * The control plane serves every namespace, so destroy-all removes it only when the kit installed it (the release
 * has the kit's label) and no Dapr component outside this namespace uses it, or with --dapr-control-plane.
 * Its scheduler volumes and dapr-system go only with --purge.
 */
export async function planControlPlaneRemoval(ctx: Ctx, o: { purge: boolean; force: boolean }): Promise<ClusterWidePlan> {
  const helm = helmFor(ctx);
  const title = `Dapr control plane (helm release ${RELEASE} in ${DAPR_NAMESPACE}, cluster-wide)`;
  if (!(await helm.release(RELEASE, DAPR_NAMESPACE))) return { title, remove: false, why: `no helm release ${RELEASE} in ${DAPR_NAMESPACE}`, objects: [] };
  const ours = (await helm.release(RELEASE, DAPR_NAMESPACE, { selector: KIT_RELEASE_LABEL })) !== undefined;
  const elsewhere = await ctx.kube
    .list<{ metadata: { name: string; namespace: string } }>('components.dapr.io', { namespace: null })
    .then((items) => items.filter((c) => c.metadata.namespace !== ctx.config.namespace).map((c) => `${c.metadata.namespace}/${c.metadata.name}`))
    .catch((err: unknown) => (isUnknownResourceType(err) ? [] : Promise.reject(err)));
  const objects = [
    `helm release ${RELEASE} (${DAPR_NAMESPACE})`,
    ...(o.purge ? [`the scheduler volumes in ${DAPR_NAMESPACE}`, `namespace/${DAPR_NAMESPACE}`] : []),
  ];
  const reasons = [
    ...(ours ? [] : [`the kit did not install it (the release has no ${KIT_RELEASE_LABEL} label)`]),
    ...(elsewhere.length ? [`Dapr components in other namespaces use it: ${elsewhere.slice(0, 5).join(', ')}${elsewhere.length > 5 ? ', ...' : ''}`] : []),
  ];
  if (!reasons.length) return { title, remove: true, why: 'installed by the kit, and no other namespace has Dapr components', objects };
  if (o.force) return { title, remove: true, why: `--dapr-control-plane, although ${reasons.join('; ')}`, objects };
  return { title, remove: false, why: `${reasons.join('; ')} (--dapr-control-plane removes it anyway)`, objects };
}

export async function removeControlPlane(step: StepCtx, plan: ClusterWidePlan, o: { purge: boolean }): Promise<void> {
  if (!plan.remove) return;
  const helm = helmFor(step);
  if (await helm.release(RELEASE, DAPR_NAMESPACE)) {
    await helm.uninstall(RELEASE, DAPR_NAMESPACE);
    step.change(`helm release ${RELEASE}`, 'deleted');
    step.log.info(`helm release ${RELEASE} uninstalled (the dapr.io CRDs stay: other namespaces may use them)`);
  }
  if (!o.purge) return step.log.info(`kept the scheduler volumes and namespace ${DAPR_NAMESPACE}; --purge removes them`);
  // The chart's claims carry the chart's labels, not the kit's: they are the release's, which was just removed.
  const r = await step.kube.run(['delete', 'pvc', '-n', DAPR_NAMESPACE, '-l', 'app=dapr-scheduler-server', '--ignore-not-found', '--wait=false', '-o', 'name']);
  for (const name of r.stdout.split('\n').filter(Boolean)) step.change(`${name} (${DAPR_NAMESPACE})`, 'deleted');
  await step.kube.run(['delete', 'namespace', DAPR_NAMESPACE, '--ignore-not-found', '--wait=false']);
  step.change(`namespace/${DAPR_NAMESPACE}`, 'deleted');
}

// ------------------------------------------------------------------ dependencies (the components of dependsOn)

/** A workload of a component Dapr depends on (its `readiness`), with that component's title and deploy script. */
export type Dependency = WorkloadRef & { title: string; script: string };

/** The workloads of `components` (Dapr's dependsOn, looked up in the registry) that must be ready first. */
export function dependenciesOf(components: readonly (Component | undefined)[]): Dependency[] {
  return components.flatMap((c) => {
    if (!c?.readiness) throw new Error(`dapr depends on a component the registry does not have, or that declares no readiness`);
    return c.readiness.map((w) => ({ ...w, title: c.title, script: c.scripts.deploy }));
  });
}

/** "Kafka and PostgreSQL", for messages and check names. */
export const titlesOf = (deps: readonly Dependency[]) => [...new Set(deps.map((d) => d.title))].join(' and ');

/** One list in the stack's namespace: the kinds of the workloads and their pods (the selectors pick each one's). */
const kindsOf = (deps: readonly Dependency[]) => [...new Set([...deps.map((d) => d.kind), 'pod'])].join(',');

export async function readDependencies(step: StepCtx, deps: readonly Dependency[]): Promise<WorkloadState<Dependency>[]> {
  return workloadStates(await step.kube.list<WorkloadJson | PodJson>(kindsOf(deps)), deps).states;
}

function refuse(ns: string, states: readonly WorkloadState<Dependency>[]): StepError {
  const bad = states.filter((d) => !d.ready);
  const what = bad.map((d) => `${d.ref.title} ${d.present ? `is not ready (${d.state})` : `is not deployed in ${ns}`}`);
  const fixes = new Set(bad.map((d) => `./scripts/${d.ref.script}.mts --namespace ${ns}`));
  return new StepError(`refusing to apply the Dapr components: ${what.join('; ')}. ${WHY}`, {
    fix: `${[...fixes].join(' && ')}, then re-run (docs/dapr.md#order); or --control-plane-only to install just the control plane`,
    docs: 'daprd-component-init',
  });
}

const WHY = 'A sidecar whose component cannot initialise exits, so every Dapr app would crash-loop';

/** Before any change: each must at least exist (it may still be starting; deploy waits for it later). */
export async function requireDependenciesDeployed(step: StepCtx, deps: readonly Dependency[]): Promise<void> {
  const states = await readDependencies(step, deps);
  if (states.some((d) => !d.present)) throw refuse(step.config.namespace, states);
}

/** Waits (within the step's budget) for every one to be ready; stops at once on a pod state that will not heal. */
export async function waitForDependencies(step: StepCtx, deps: readonly Dependency[]): Promise<void> {
  const ns = step.config.namespace;
  await waitForWorkloads(step, deps, {
    what: `${titlesOf(deps)} in ${ns} to be ready`,
    list: { kinds: kindsOf(deps), namespace: ns },
    refuse: (states) => (states.some((s) => !s.present) ? refuse(ns, states) : undefined),
    stuck: (_pod, states) => refuse(ns, states),
  });
}
