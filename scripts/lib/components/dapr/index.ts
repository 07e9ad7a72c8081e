// The Dapr component: control plane from the official Helm chart, then the state store's PostgreSQL role and
// Secret, then the components, Configuration and Resiliency (and optionally Redis, Zipkin). Verify checks the
// objects and runs an end-to-end probe through a real sidecar. docs/dapr.md is the user's guide.

import path from 'node:path';
import type { Ctx, StepCtx } from '../../run/context.js';
import { EnvironmentError, errorMessage } from '../../core/errors.js';
import { deleteBySelector, labelClaims } from '../../kube/kubectl.js';
import { redactSecrets, type Manifest } from '../../kube/manifests.js';
import { readVersions, REPO_ROOT } from '../../core/repo.js';
import { readSecret } from '../../kube/secrets.js';
import { ensureClusterReachable } from '../../preflight/checks.js';
import { rememberedSettings, renderSettings } from '../../run/remembered.js';
import { waitForWorkload } from '../../run/rollout.js';
import { applyRecorded } from '../../run/steps.js';
import { generatePassword } from '../shared/postgres-credentials.js';
import { withPostgres } from '../shared/postgres-connection.js';
import { libpqConnectionString } from '../shared/postgres-topology.js';
import { actionList, planLines, runActions, type Action } from '../shared/actions.js';
import type { Component, ComponentName, DeployOptions, Desired } from '../types.js';
import { objectChecks, zipkinCheck } from './checks.js';
import * as cp from './controlplane.js';
import { renderAll } from './manifests.js';
import { probeChecksEndToEnd } from './probe.js';
import * as S from './settings.js';
import { ensureStateStoreRole, inClusterTarget, serverSsl, stateStorePassword, summarise } from './statestore.js';
import { controlPlaneOf, controlPlaneRequests, daprChartImages, daprRegistry, flattenValues, loadValues } from './values.js';
import { daprConnect, daprStatus } from './status.js';

export const REDIS_SELECTOR = 'app.kubernetes.io/name=redis,app.kubernetes.io/component=dapr';
export const ZIPKIN_SELECTOR = 'app.kubernetes.io/name=zipkin,app.kubernetes.io/component=dapr';
/** What the plan shows for the generated secrets (not known before a deploy, and never printed). */
const PLANNED_SECRETS = { connectionString: '<generated on first deploy>', redisPassword: '<generated on first deploy>' };

/** What one deploy learns on its way and hands to the next action. */
interface DaprRun {
  /** install-dapr on its own: what Dapr depends on was not deployed in this run. */
  standalone: boolean;
  remembered: Record<string, string>;
  /** The settings with the shared control plane's as its live release has them (read after the dependency gate). */
  controlPlane?: S.DaprSettings;
  password?: string;
  ssl?: boolean;
  changed?: boolean;
}

/** The control plane, in order (deploy-all runs these beside what Dapr depends on). */
function controlPlaneActions(ctx: Ctx, s: S.DaprSettings, deps: readonly cp.Dependency[]): Action<DaprRun>[] {
  const alone = s.controlPlaneOnly ? '' : `; run alone, also that ${cp.titlesOf(deps)} are deployed in ${s.namespace} (refused before any change otherwise)`;
  const helm = cp.helmCommandLine({ ...s, valuesPath: path.relative(ctx.root, s.valuesPath) }, ctx.config.context);
  const release = `release ${S.RELEASE} is deployed at ${s.chart.chartLabel} with the same values`;
  return [
    {
      plan: `check the cluster is reachable and helm 3 or 4 is installed${alone}`,
      run: async (step, run) => {
        if (!step.preflighted) {
          await ensureClusterReachable(step);
          await cp.helmFor(step).version();
        }
        // Before any change: a sidecar cannot start with components whose Kafka or PostgreSQL is missing.
        if (run.standalone && !s.controlPlaneOnly) await cp.requireDependenciesDeployed(step, deps);
        run.controlPlane = S.daprSettings(step, run.remembered, cp.liveSettings(await cp.liveControlPlane(step)));
        step.log.info(run.controlPlane.schedulerWhy);
      },
    },
    {
      plan: `${helm}  (${s.chart.describe}; skipped when ${release}; a release at another Dapr version gets the chart's CRDs first, then is upgraded to ${s.version}: --diff names the version it runs); chart values: ${flattenValues(loadValues(s.valuesPath)).join(', ')}`,
      run: async (step, run) => void (await cp.installControlPlane(step, run.controlPlane!)),
    },
    {
      plan: `wait for ${controlPlaneOf(s.scheduler)
        .map((w) => `${w.kind}/${w.name}`)
        .join(', ')} in ${S.DAPR_NAMESPACE}`,
      run: (step, run) => cp.waitForControlPlane(step, controlPlaneOf(run.controlPlane!.scheduler)),
    },
  ];
}

/** The components and what they need, in order (after what Dapr depends on). */
function componentActions(ctx: Ctx, s: S.DaprSettings, deps: readonly cp.Dependency[]): Action<DaprRun>[] {
  const ns = s.namespace;
  const planned = redactSecrets(renderAll(s, PLANNED_SECRETS));
  return actionList<DaprRun>(
    {
      plan: `wait for ${deps.map((d) => `${d.kind}/${d.name}`).join(' and ')} in ${ns} to be ready`,
      run: async (step, run) => {
        if (run.standalone) await cp.waitForDependencies(step, deps);
      },
    },
    {
      plan: `PostgreSQL (${ctx.config.pgUrl ? '--pg-url' : 'port-forward to svc/postgresql'}): role ${S.STATE_ROLE} (LOGIN, nothing else), schema ${S.STATE_SCHEMA} owned by it, search_path ${S.STATE_SCHEMA}; password generated once, kept in Secret ${S.STATESTORE_SECRET}`,
      run: async (step, run) => {
        const { password, generated } = await stateStorePassword(step);
        step.log.info(`${generated ? 'generated the state-store password, stored' : 'reusing the state-store password'} in Secret ${S.STATESTORE_SECRET}`);
        const { roles, ssl } = await withPostgres(step, async (client) => ({
          roles: await ensureStateStoreRole(client, { password }),
          ssl: await serverSsl(client),
        }));
        for (const [key, what] of Object.entries(roles)) step.change(key, what);
        step.log.ok(`state store in PostgreSQL: ${summarise(roles)}`);
        Object.assign(run, { password, ssl });
      },
    },
    {
      plan: `kubectl apply --server-side: ${planned.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')} and the remembered settings (ConfigMap/learnflow-settings-dapr)`,
      run: async (step, run) => {
        if (run.ssl) step.log.info('PostgreSQL serves SSL: the state store connects with sslmode=require');
        const manifests = await desiredComponents(step, s, run);
        if (!s.networkPolicies) {
          await deleteBySelector(step, 'networkpolicy', REDIS_SELECTOR);
          await deleteBySelector(step, 'networkpolicy', ZIPKIN_SELECTOR);
        }
        // Turned off since the last deploy: the objects go; Redis's volume and password stay (its data).
        if (!s.withRedis && run.remembered.withRedis === 'true') {
          await deleteBySelector(step, 'statefulset,service,networkpolicy', REDIS_SELECTOR);
          await deleteBySelector(step, 'components.dapr.io', `app.kubernetes.io/name=${S.REDIS_STATESTORE}`);
        }
        if (!s.withZipkin && run.remembered.withZipkin === 'true') await deleteBySelector(step, 'deployment,service,networkpolicy', ZIPKIN_SELECTOR);
        const outcome = await applyRecorded(step, manifests);
        run.changed = Object.values(outcome).some((o) => o !== 'unchanged');
      },
    },
    s.withZipkin && {
      plan: `wait for deployment/zipkin in ${ns} to be ready`,
      run: async (step) => {
        await waitForWorkload(step, { kind: 'deployment', name: 'zipkin', selector: ZIPKIN_SELECTOR });
        step.log.ok(`deployment/zipkin is ready: sidecars using ${S.CONFIGURATION} send their spans to ${s.zipkinEndpoint}`);
      },
    },
    s.withRedis && {
      plan: `wait for statefulset/redis in ${ns} to be ready`,
      run: async (step) => {
        await waitForWorkload(step, { kind: 'statefulset', name: 'redis', selector: 'app.kubernetes.io/name=redis' });
        await labelClaims(step.kube, ['data-redis-0']);
        step.log.ok('statefulset/redis is ready');
      },
    },
  );
}

/** The components, Configuration, Resiliency (and Redis, Zipkin) with the state store's connection string. */
async function desiredComponents(step: StepCtx, s: S.DaprSettings, run: DaprRun): Promise<Manifest[]> {
  const connectionString = libpqConnectionString(inClusterTarget(s.namespace), run.password!, run.ssl ? 'require' : 'prefer');
  step.secrets.add(connectionString);
  const manifests = renderAll(s, { connectionString, redisPassword: s.withRedis ? await redisPassword(step) : undefined });
  const labels = { 'app.kubernetes.io/name': 'dapr', 'app.kubernetes.io/component': 'dapr' };
  const remember = { withRedis: String(s.withRedis), withZipkin: String(s.withZipkin), networkPolicies: String(s.networkPolicies) };
  return [...manifests, renderSettings(s.namespace, 'dapr', labels, remember)];
}

async function redisPassword(step: StepCtx): Promise<string> {
  const existing = (await readSecret(step, S.REDIS_SECRET))?.get('password');
  const password = existing ?? generatePassword();
  step.secrets.add(password);
  step.log.info(existing ? `reusing the Redis password in Secret ${S.REDIS_SECRET}` : `generated a Redis password, stored in Secret ${S.REDIS_SECRET}`);
  return password;
}

/** The `dapr` CLI's own view, when it is installed (not required). */
async function showDaprStatus(step: StepCtx): Promise<void> {
  if (step.config.context) return; // the dapr CLI always uses the current context
  try {
    const r = await step.exec('dapr', ['status', '-k'], { quiet: true, allowFailure: true, timeoutMs: 20_000 });
    if (r.exitCode === 0 && r.stdout.trim()) step.log.info(`dapr status -k:\n${r.stdout.trimEnd()}`);
  } catch (err) {
    if (!(err instanceof EnvironmentError)) step.log.debug(`dapr status -k failed: ${errorMessage(err)}`);
  }
}

/** The components of Dapr's dependsOn must be ready before its components are applied (a sidecar exits otherwise). */
const DEPENDS_ON = ['kafka', 'postgres'] as const;

/**
 * Dapr, given the registry to find what it depends on in (components/index.ts passes its own lookup: Dapr cannot
 * import the registry that imports it). The gate waits for the `readiness` workloads of each one.
 */
export function daprComponent(lookup: (name: ComponentName) => Component | undefined): Component {
  const deps = () => cp.dependenciesOf(DEPENDS_ON.map(lookup));

  async function deploy(step: StepCtx, o: DeployOptions = {}): Promise<void> {
    if (step.config.noCluster) return step.log.warn('--no-cluster: Dapr runs only in a cluster; nothing to do for it');
    const remembered = await rememberedSettings(step, 'dapr');
    const s = S.daprSettings(step, remembered);
    for (const why of s.why) step.log.info(why);
    if (!s.zipkinEndpoint && step.config.options.given(S.SAMPLING_FLAG)) {
      step.log.warn('--tracing-sampling-rate has no effect without --zipkin-endpoint: no collector, so no spans are exported');
    }
    const run: DaprRun = { standalone: o.dependenciesReady !== true, remembered };
    if (!o.prepared) await runActions(step, controlPlaneActions(step, s, deps()), run);
    if (s.controlPlaneOnly) {
      step.log.info('--control-plane-only: components, Configuration, Resiliency and the state-store role left out');
    } else {
      await runActions(step, componentActions(step, s, deps()), run);
      if (run.changed) {
        step.log.info(`running Dapr apps load components at start: restart them to pick up a change (kubectl rollout restart deployment -n ${s.namespace})`);
      }
    }
    await showDaprStatus(step);
  }

  async function verify(step: StepCtx): Promise<void> {
    if (step.config.noCluster) {
      step.check('cluster', true, '--no-cluster: Dapr runs only in a cluster; nothing checked');
      return;
    }
    if (!step.preflighted) await ensureClusterReachable(step);
    try {
      await cp.controlPlaneChecks(step, controlPlaneOf(S.daprSettings(step, {}, cp.liveSettings(await cp.liveControlPlane(step))).scheduler));
    } catch (err) {
      step.check('control plane', false, errorMessage(err).split('\n')[0]!);
    }
    const { withRedis } = await objectChecks(step, deps());
    const o = step.config.options;
    await zipkinCheck(step, o.on(S.SKIP_PROBE_FLAG));
    if (o.on(S.SKIP_PROBE_FLAG)) {
      step.log.warn('--skip-probe: no sidecar was started; the components were checked as objects only');
      step.check('probe', true, 'skipped (--skip-probe)');
      return;
    }
    await probeChecksEndToEnd(step, {
      image: o.get(S.PROBE_IMAGE_FLAG) ?? S.PROBE_IMAGE,
      timeoutMs: o.get(S.PROBE_TIMEOUT_FLAG) ?? Number(S.PROBE_TIMEOUT_FLAG.default),
      withRedis,
    });
  }

  return {
    name: 'dapr',
    title: 'Dapr',
    budgetMs: S.BUDGET_MS,
    scripts: { deploy: 'install-dapr', verify: 'verify-dapr' },
    status: daprStatus,
    connect: daprConnect,
    summaries: {
      deploy:
        'Installs Dapr into dapr-system from the official Helm chart (pinned in k8s/versions.json; values sized for a laptop),\n' +
        'waits for its control plane, then gives the state store its own PostgreSQL role and applies kafka-pubsub, statestore,\n' +
        'the Configuration (tracing) and the Resiliency policy into the namespace. Refuses to apply components while Kafka or\n' +
        'PostgreSQL is not ready. Safe to re-run: an unchanged release is not upgraded.',
      verify:
        'Checks the Dapr control plane, CRDs, components, Configuration and Resiliency, then runs a probe: a short Job with a\n' +
        'sidecar that loads the components, saves and reads state and publishes through kafka-pubsub; the kit then finds the\n' +
        'message in Kafka. Every check runs; exit 1 if any failed. --skip-probe on clusters that run no containers.',
    },
    deployFlags: S.DEPLOY_FLAGS,
    verifyFlags: S.VERIFY_FLAGS,
    extraNamespaces: [S.DAPR_NAMESPACE],
    clusterOnly: true,
    imageFlags: [
      { ...S.WITH_REDIS_FLAG, description: 'also list the optional Redis (install-dapr --with-redis)' },
      { ...S.NO_SCHEDULER_FLAG, description: 'leave out the Dapr scheduler image (install-dapr --no-scheduler)' },
    ],
    /** The chart's images (registry from k8s/dapr/values.yaml) and the probe's. */
    images: (ctx) => [
      ...daprChartImages(readVersions().dapr.version, daprRegistry(ctx.root), { scheduler: !ctx.config.options.on(S.NO_SCHEDULER_FLAG) }),
      ctx.config.options.get(S.PROBE_IMAGE_FLAG) ?? S.PROBE_IMAGE,
    ],
    /** The control plane's requests as k8s/dapr/values.yaml sets them; without the scheduler's with --no-scheduler. */
    extraRequests: (ctx) => controlPlaneRequests(loadValues(path.join(REPO_ROOT, S.VALUES_FILE)), controlPlaneOf(!ctx.config.options.on(S.NO_SCHEDULER_FLAG))),
    renderExtra: (ctx) => (ctx.config.noCluster ? Promise.resolve(undefined) : cp.templateControlPlane(ctx, S.daprSettings(ctx))),
    async plan(ctx) {
      if (ctx.config.noCluster) return { actions: ['--no-cluster: nothing to do for Dapr (it runs only in a cluster)'], manifests: [] };
      const s = S.daprSettings(ctx);
      const actions = [...controlPlaneActions(ctx, s, deps()), ...(s.controlPlaneOnly ? [] : componentActions(ctx, s, deps()))];
      return { actions: planLines(actions), manifests: s.controlPlaneOnly ? [] : redactSecrets(renderAll(s, PLANNED_SECRETS)) };
    },
    dependsOn: DEPENDS_ON,
    helmReleases: [{ name: S.RELEASE, namespace: S.DAPR_NAMESPACE }],
    /** The control plane: needs none of dependsOn, so deploy-all starts it beside them. */
    async prepare(step) {
      if (step.config.noCluster) return;
      await runActions(step, controlPlaneActions(step, S.daprSettings(step), deps()), { standalone: false, remembered: {} });
    },
    deploy,
    /** --diff: the objects deploy would apply now (reads only: the role is untouched), and the release's changes. */
    async desired(step): Promise<Desired> {
      const remembered = await rememberedSettings(step, 'dapr');
      const s = S.daprSettings(step, remembered, cp.liveSettings(await cp.liveControlPlane(step)));
      const release = { title: `helm release ${S.RELEASE} (${S.DAPR_NAMESPACE})`, changes: await cp.controlPlaneChanges(step, s) };
      if (s.controlPlaneOnly) return { manifests: [], release };
      const { password } = await stateStorePassword(step);
      const ssl = await withPostgres(step, serverSsl);
      return { manifests: await desiredComponents(step, s, { standalone: false, remembered, password, ssl }), release };
    },
    verify,
    // The PostgreSQL role dapr_state and schema dapr stay with the PostgreSQL data (a new install resets the password).
    owned: [
      { kinds: 'components.dapr.io,configurations.dapr.io,resiliencies.dapr.io', selector: S.COMPONENT_SELECTOR },
      { kinds: 'configmap', selector: S.COMPONENT_SELECTOR },
      { kinds: 'statefulset,service,networkpolicy', selector: REDIS_SELECTOR },
      { kinds: 'deployment,service,networkpolicy', selector: ZIPKIN_SELECTOR },
      {
        kinds: 'secret,pvc',
        selector: S.COMPONENT_SELECTOR,
        data: `the state-store and Redis Secrets (${S.STATESTORE_SECRET}, ${S.REDIS_SECRET}) and the Redis volume`,
      },
    ],
    userKinds: ['subscriptions.dapr.io'],
    clusterWide: { plan: cp.planControlPlaneRemoval, remove: cp.removeControlPlane, forceFlag: S.DAPR_CONTROL_PLANE_FLAG },
  };
}
