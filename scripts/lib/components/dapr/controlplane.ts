// The control plane: `helm upgrade --install` (skipped when the release is already deployed at the same chart
// with the same values), the CRDs on an upgrade (helm never upgrades crds/), then one wait for all five
// workloads that names each one not ready and why. Also the Kafka/PostgreSQL readiness gate for components.

import { isDeepStrictEqual } from 'node:util';
import { perRun, type StepCtx } from '../../kube/context.js';
import { diagnosePod, type PodJson } from '../../kube/pod-diagnosis.js';
import { StepError } from '../../core/errors.js';
import { describeRelease, Helm, KIT_RELEASE_LABEL, PENDING_STATUSES, upgradeInstallArgs, type HelmRelease, type UpgradeOptions } from '../../kube/helm.js';
import { formatCommand } from '../../core/exec.js';
import { parseManifests, STACK_LABEL } from '../../kube/manifests.js';
import { TerminalTracker, workloadReady } from '../../kube/rollout.js';
import { waitFor } from '../../core/wait.js';
import { DAPR_NAMESPACE, RELEASE, type DaprSettings, type LiveControlPlaneSettings } from './settings.js';
import { CONTROL_PLANE, desiredValues, flattenValues, loadValues, SCHEDULER_OFF, type ControlPlaneWorkload } from './values.js';
import { applyRecorded } from '../../kube/steps.js';

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

/** The command a user could paste (for --dry-run and docs). */
export function helmCommandLine(s: DaprSettings, context?: string): string {
  const args = upgradeInstallArgs(upgradeOptions(s));
  return formatCommand('helm', context ? ['--kube-context', context, ...args] : args);
}

export type InstallOutcome = 'created' | 'configured' | 'unchanged';

/** Decides whether the release needs an upgrade. Pure, for tests. */
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

/** --diff: what an install now would change in the release (chart and values, key by key); [] when up to date. */
export async function controlPlaneChanges(step: StepCtx, s: DaprSettings): Promise<string[]> {
  const desired = chartValues(s);
  const { release, values } = await liveControlPlane(step);
  if (!release) return [`not installed: would install ${s.chart.chartLabel} with ${flattenValues(desired).join(', ')}`];
  const current = release.status === 'deployed' ? values : undefined;
  if (releaseUpToDate(release, s.chart.chartLabel, current, desired).upToDate) return [];
  const changes: string[] = [];
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
    // Helm keeps a release in its namespace (Secrets, its default storage): no dapr-system in the run's snapshot, no release to list.
    const release = step.kube.knownAbsent('namespace', DAPR_NAMESPACE, null) ? undefined : await helm.release(RELEASE, DAPR_NAMESPACE);
    // Any state: a first install that failed at the wait still says what it was asked for.
    return { release, values: release ? await helm.userValues(RELEASE, DAPR_NAMESPACE) : undefined };
  });
}

/** The shared settings a live release holds (global.scheduler.enabled: off only when set to false). */
export function liveSettings(live: LiveControlPlane): LiveControlPlaneSettings {
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
  step.log.info(`installing ${s.chart.describe}: ${verdict.why}`);
  if (release) await warnOtherStacks(step);

  // helm installs crds/ on the first install only; an upgrade must bring the new version's CRDs itself.
  if (release && release.status === 'deployed') await applyChartCrds(step, helm, s);

  const timeoutMs = Math.max(30_000, step.deadline.remaining());
  await helm.upgradeInstall(upgradeOptions(s, timeoutMs));
  const outcome: InstallOutcome = release ? 'configured' : 'created';
  step.change(`helm release ${RELEASE}`, outcome);
  step.log.ok(`helm release ${RELEASE} ${outcome === 'created' ? 'installed' : 'upgraded'} (${s.chart.chartLabel}, images ${s.version})`);
  return outcome;
}

/** The control plane is the cluster's, not the stack's: an upgrade of it names the other stacks it changes too. */
async function warnOtherStacks(step: StepCtx): Promise<void> {
  const namespaces = await step.kube.list<{ metadata: { name: string } }>('namespace', { namespace: null, selector: STACK_LABEL });
  const others = namespaces.map((n) => n.metadata.name).filter((n) => n !== step.config.namespace);
  if (others.length) step.log.warn(`the Dapr control plane is shared: this upgrade changes it for the stacks in ${others.join(', ')} too`);
}

/**
 * A helm process that was interrupted (Ctrl-C, a killed terminal) leaves the release pending-*, and helm refuses
 * every later upgrade. The kit's own interrupted run is by far the likeliest cause on a laptop, so it clears it:
 * a first install that never finished is uninstalled, an upgrade is rolled back.
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

async function applyChartCrds(step: StepCtx, helm: Helm, s: DaprSettings): Promise<void> {
  const crds = parseManifests(await helm.showCrds(s.chart.ref), 'helm show crds');
  if (!crds.length) return;
  await applyRecorded(step, crds, { logUnchanged: false });
}

interface WorkloadJson {
  kind: string;
  metadata: { name: string; generation?: number; labels?: Record<string, string> };
  spec?: { replicas?: number };
  status?: Record<string, unknown>;
}

export interface WorkloadState {
  workload: ControlPlaneWorkload;
  ready: boolean;
  state: string;
}

/** Readiness of each control-plane workload from one `kubectl get deployment,statefulset,pod -n dapr-system`. */
export function controlPlaneStates(
  items: readonly (WorkloadJson | PodJson)[],
  workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE,
): { states: WorkloadState[]; pods: ReturnType<typeof diagnosePod>[] } {
  const pods = items.filter((i) => (i as { kind?: string }).kind === 'Pod') as PodJson[];
  const diagnosed = pods.map((p) => ({ app: p.metadata.labels?.app, d: diagnosePod(p) }));
  const states = workloads.map((w) => {
    const obj = items.find((i) => (i as WorkloadJson).kind?.toLowerCase() === w.kind && i.metadata.name === w.name) as WorkloadJson | undefined;
    if (!obj) return { workload: w, ready: false, state: 'not created' };
    const r = workloadReady(obj as Parameters<typeof workloadReady>[0]);
    const podStates = diagnosed.filter((p) => p.app === w.app && !p.d.ready).map((p) => `${p.d.pod}: ${p.d.state}`);
    return { workload: w, ready: r.ready, state: `${r.state}${podStates.length ? ` (${podStates.join('; ')})` : ''}` };
  });
  return { states, pods: diagnosed.filter((p) => workloads.some((w) => w.app === p.app)).map((p) => p.d) };
}

async function readControlPlane(
  step: StepCtx,
  workloads: readonly ControlPlaneWorkload[],
  opts: { fresh?: boolean } = {},
): Promise<ReturnType<typeof controlPlaneStates>> {
  const items = await step.kube.list<WorkloadJson | PodJson>('deployment,statefulset,pod', { namespace: DAPR_NAMESPACE, fresh: opts.fresh });
  return controlPlaneStates(items, workloads);
}

/** Waits for operator, sentry, sidecar injector, placement and scheduler together; names every one not ready. */
export async function waitForControlPlane(step: StepCtx, workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE): Promise<void> {
  const tracker = new TerminalTracker(() => step.clock.now());
  await waitFor({
    what: `the Dapr control plane in ${DAPR_NAMESPACE}`,
    clock: step.clock,
    deadline: step.deadline,
    log: step.log,
    signal: step.signal,
    probe: async ({ first }) => {
      const { states, pods } = await readControlPlane(step, workloads, { fresh: !first });
      const waiting = states.filter((s) => !s.ready);
      const state = waiting.length ? `not ready: ${waiting.map((s) => `${s.workload.name} ${s.state}`).join('; ')}` : `${states.length} workloads ready`;
      if (!waiting.length) return { done: true, state };
      const stuck = pods.find((p) => tracker.terminal(p));
      if (stuck) {
        return {
          done: false,
          state,
          terminal: new StepError(`the Dapr control plane cannot become ready: pod ${stuck.pod} is ${stuck.state}; ${state}`, {
            fix: stuck.fix?.replace(/-n learnflow\b/g, `-n ${DAPR_NAMESPACE}`),
            docs: stuck.docs,
          }),
        };
      }
      return { done: false, state };
    },
  });
  step.log.ok(`Dapr control plane ready: ${workloads.map((w) => w.name.replace(/^dapr-/, '')).join(', ')}`);
}

/** For verify: one check per workload. */
export async function controlPlaneChecks(step: StepCtx, workloads: readonly ControlPlaneWorkload[] = CONTROL_PLANE): Promise<void> {
  const { states } = await readControlPlane(step, workloads);
  for (const s of states) step.check(`${s.workload.name} ready`, s.ready, s.state);
}

// ------------------------------------------------------------------------------------- dependencies

export const DEPENDENCIES = [
  { name: 'kafka', title: 'Kafka', selector: 'app.kubernetes.io/name=kafka', fix: (ns: string) => `./scripts/deploy-kafka.mts --namespace ${ns}` },
  {
    name: 'postgresql',
    title: 'PostgreSQL',
    selector: 'app.kubernetes.io/name=postgresql',
    fix: (ns: string) => `./scripts/deploy-postgres.mts --namespace ${ns}`,
  },
] as const;

export interface DependencyState {
  name: string;
  title: string;
  present: boolean;
  ready: boolean;
  state: string;
}

export function dependencyStates(items: readonly (WorkloadJson | PodJson)[]): {
  deps: DependencyState[];
  pods: (ReturnType<typeof diagnosePod> & { app?: string })[];
} {
  const pods = (items.filter((i) => (i as { kind?: string }).kind === 'Pod') as PodJson[]).map((p) => ({
    ...diagnosePod(p),
    app: p.metadata.labels?.['app.kubernetes.io/name'],
  }));
  const deps = DEPENDENCIES.map((d) => {
    const sts = items.find((i) => (i as WorkloadJson).kind === 'StatefulSet' && i.metadata.name === d.name) as WorkloadJson | undefined;
    if (!sts) return { name: d.name, title: d.title, present: false, ready: false, state: `statefulset/${d.name} not found` };
    const r = workloadReady(sts as Parameters<typeof workloadReady>[0]);
    const podStates = pods.filter((p) => p.app === d.name && !p.ready).map((p) => `${p.pod}: ${p.state}`);
    return { name: d.name, title: d.title, present: true, ready: r.ready, state: `${r.state}${podStates.length ? ` (${podStates.join('; ')})` : ''}` };
  });
  return { deps, pods };
}

export async function readDependencies(step: StepCtx, opts: { fresh?: boolean } = {}): Promise<ReturnType<typeof dependencyStates>> {
  const items = await step.kube.list<WorkloadJson | PodJson>('statefulset,pod', {
    selector: 'app.kubernetes.io/name in (kafka,postgresql)',
    fresh: opts.fresh,
  });
  return dependencyStates(items);
}

function refuse(ns: string, deps: readonly DependencyState[], why: string): StepError {
  const bad = deps.filter((d) => !d.ready);
  return new StepError(
    `refusing to apply the Dapr components: ${bad.map((d) => `${d.title} ${d.present ? `is not ready (${d.state})` : `is not deployed in ${ns}`}`).join('; ')}. ${why}`,
    {
      fix: `${bad.map((d) => DEPENDENCIES.find((x) => x.name === d.name)!.fix(ns)).join(' && ')}, then re-run (docs/dapr.md#order); or --control-plane-only to install just the control plane`,
      docs: 'daprd-component-init',
    },
  );
}

const WHY = 'A sidecar whose component cannot initialise exits, so every Dapr app would crash-loop';

/** Before any change: both must at least exist (they may still be starting; deploy waits for them later). */
export async function requireDependenciesDeployed(step: StepCtx): Promise<void> {
  const { deps } = await readDependencies(step);
  if (deps.some((d) => !d.present)) throw refuse(step.config.namespace, deps, WHY);
}

/** Waits (within the step's budget) for both to be ready; stops at once on a pod state that will not heal. */
export async function waitForDependencies(step: StepCtx): Promise<void> {
  const tracker = new TerminalTracker(() => step.clock.now());
  await waitFor({
    what: `Kafka and PostgreSQL in ${step.config.namespace} to be ready`,
    clock: step.clock,
    deadline: step.deadline,
    log: step.log,
    signal: step.signal,
    probe: async ({ first }) => {
      const { deps, pods } = await readDependencies(step, { fresh: !first });
      const state = deps.map((d) => `${d.title}: ${d.ready ? 'ready' : d.state}`).join('; ');
      if (deps.every((d) => d.ready)) return { done: true, state };
      if (deps.some((d) => !d.present) || pods.some((p) => tracker.terminal(p)))
        return { done: false, state, terminal: refuse(step.config.namespace, deps, WHY) };
      return { done: false, state };
    },
  });
}
