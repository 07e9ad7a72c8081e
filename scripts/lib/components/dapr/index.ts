// The Dapr component: control plane from the official Helm chart, then the state store's PostgreSQL role and
// Secret, then the components, Configuration and Resiliency (and optionally Redis). Verify checks the objects
// and runs an end-to-end probe through a real sidecar. docs/dapr.md is the user's guide.

import { daprChartImages, daprRegistry } from './chart-images.js';
import { libpqConnectionString } from '../shared/postgres-topology.js';
import path from 'node:path';
import type pg from 'pg';
import { tryLogin } from '../shared/postgres-client.js';
import type { Ctx, StepCtx } from '../../run/context.js';
import { EnvironmentError, errorMessage } from '../../core/errors.js';
import { deleteBySelector, isUnknownResourceType, labelClaims } from '../../kube/kubectl.js';
import { parseManifests, readVersions, REPO_ROOT, redactSecrets, yamlStream, type Manifest } from '../../kube/manifests.js';
import { ensureClusterReachable } from '../../preflight/checks.js';
import { PortForward } from '../../run/port-forward.js';
import { rememberedSettings, renderSettings } from '../../run/remembered.js';
import { waitForWorkload } from '../../run/rollout.js';
import { generatePassword } from '../shared/postgres-credentials.js';
import { withPostgres } from '../shared/postgres-connection.js';
import type { ClusterWidePlan, Component, DeployOptions, Desired, Plan } from '../types.js';
import { actionList, planLines, runActions, type Action } from '../shared/actions.js';
import { objectChecks } from './checks.js';
import { KIT_RELEASE_LABEL } from '../../kube/helm.js';
import { booleanFlag } from '../../core/flags.js';
import { chartArgs } from '../../kube/helm.js';
import {
  controlPlaneChanges,
  controlPlaneChecks,
  helmCommandLine,
  helmFor,
  upgradeOptions,
  installControlPlane,
  liveControlPlane,
  liveSettings,
  requireDependenciesDeployed,
  waitForControlPlane,
  waitForDependencies,
} from './controlplane.js';
import { renderAll } from './manifests.js';
import { probeChecksEndToEnd } from './probe.js';
import {
  COMPONENT_SELECTOR,
  CONFIGURATION,
  DAPR_NAMESPACE,
  DEPLOY_FLAGS,
  REDIS_SECRET,
  REDIS_STATESTORE,
  RELEASE,
  STATE_ROLE,
  STATE_SCHEMA,
  STATESTORE_SECRET,
  VALUES_FILE,
  VERIFY_FLAGS,
  PROBE_IMAGE,
  PROBE_TIMEOUT_FLAG,
  PROBE_IMAGE_FLAG,
  SAMPLING_FLAG,
  SKIP_PROBE_FLAG,
  NO_SCHEDULER_FLAG,
  daprSettings,
  type DaprSettings,
  BUDGET_MS,
} from './settings.js';
import { ensureStateStoreRole, inClusterTarget, stateStorePassword, summarise } from './statestore.js';
import { controlPlaneOf, controlPlaneRequests, flattenValues, loadValues } from './values.js';
import { readSecret } from '../../kube/secrets.js';
import { applyRecorded } from '../../run/steps.js';
import { daprConnect, daprStatus } from './status.js';

export const REDIS_SELECTOR = 'app.kubernetes.io/name=redis,app.kubernetes.io/component=dapr';
export const ZIPKIN_SELECTOR = 'app.kubernetes.io/name=zipkin,app.kubernetes.io/component=dapr';

/** What one deploy learns on its way and hands to the next action. */
interface DaprRun {
  /** install-dapr on its own: Kafka and PostgreSQL were not deployed in this run. */
  standalone: boolean;
  remembered: Record<string, string>;
  /** The settings with the shared control plane's as its live release has them (read after the dependency gate). */
  controlPlane?: ReturnType<typeof daprSettings>;
  password?: string;
  ssl?: boolean;
  changed?: boolean;
}

/** The control plane, in order (deploy-all runs these beside Kafka and PostgreSQL). */
function controlPlaneActions(ctx: Ctx, s: DaprSettings): Action<DaprRun>[] {
  return [
    {
      plan: `check the cluster is reachable and helm 3 or 4 is installed${s.controlPlaneOnly ? '' : `; run alone, also that Kafka and PostgreSQL are deployed in ${s.namespace} (refused before any change otherwise)`}`,
      run: async (step, run) => {
        if (!step.preflighted) {
          await ensureClusterReachable(step);
          await helmFor(step).version();
        }
        // Before any change: a sidecar cannot start with components whose Kafka or PostgreSQL is missing.
        if (run.standalone && !s.controlPlaneOnly) await requireDependenciesDeployed(step);
        run.controlPlane = daprSettings(step, run.remembered, liveSettings(await liveControlPlane(step)));
        step.log.info(run.controlPlane.schedulerWhy);
      },
    },
    {
      plan: `${helmCommandLine({ ...s, valuesPath: path.relative(ctx.root, s.valuesPath) }, ctx.config.context)}  (${s.chart.describe}; skipped when release ${RELEASE} is deployed at ${s.chart.chartLabel} with the same values; a release at another Dapr version gets the chart's CRDs first, then is upgraded to ${s.version}: --diff names the version it runs); chart values: ${flattenValues(loadValues(s.valuesPath)).join(', ')}`,
      run: async (step, run) => void (await installControlPlane(step, run.controlPlane!)),
    },
    {
      plan: `wait for ${controlPlaneOf(s.scheduler)
        .map((w) => `${w.kind}/${w.name}`)
        .join(', ')} in ${DAPR_NAMESPACE}`,
      run: (step, run) => waitForControlPlane(step, controlPlaneOf(run.controlPlane!.scheduler)),
    },
  ];
}

/** The components and what they need, in order (after Kafka and PostgreSQL). */
function componentActions(ctx: Ctx, s: DaprSettings): Action<DaprRun>[] {
  const ns = s.namespace;
  const planned = redactSecrets(renderAll(s, { connectionString: '<generated on first deploy>', redisPassword: '<generated on first deploy>' }));
  return actionList<DaprRun>(
    {
      plan: `wait for statefulset/kafka and statefulset/postgresql in ${ns} to be ready`,
      run: async (step, run) => {
        if (run.standalone) await waitForDependencies(step);
      },
    },
    {
      plan: `PostgreSQL (${ctx.config.pgUrl ? '--pg-url' : 'port-forward to svc/postgresql'}): role ${STATE_ROLE} (LOGIN, nothing else), schema ${STATE_SCHEMA} owned by it, search_path ${STATE_SCHEMA}; password generated once, kept in Secret ${STATESTORE_SECRET}`,
      run: async (step, run) => {
        const { password, generated } = await stateStorePassword(step);
        step.log.info(
          generated
            ? `generated the state-store password, stored in Secret ${STATESTORE_SECRET}`
            : `reusing the state-store password in Secret ${STATESTORE_SECRET}`,
        );
        const { roles, ssl } = await withPostgres(step, async (client) => ({
          roles: await ensureStateStoreRole(client, { password, canLogin: loginCheck(client) }),
          // What the server serves now, not whether a certificate Secret exists (it outlives deploy-postgres --no-tls).
          ssl: (await client.query<{ ssl: string }>("SELECT current_setting('ssl') AS ssl")).rows[0]?.ssl === 'on',
        }));
        for (const [key, what] of Object.entries(roles)) step.change(key, what);
        step.log.ok(`state store in PostgreSQL: ${summarise(roles)}`);
        run.password = password;
        run.ssl = ssl;
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
          await deleteBySelector(step, 'components.dapr.io', `app.kubernetes.io/name=${REDIS_STATESTORE}`);
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
        step.log.ok(`deployment/zipkin is ready: sidecars using ${CONFIGURATION} send their spans to ${s.zipkinEndpoint}`);
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
async function desiredComponents(step: StepCtx, s: DaprSettings, run: DaprRun): Promise<Manifest[]> {
  const connectionString = libpqConnectionString(inClusterTarget(s.namespace), run.password!, run.ssl ? 'require' : 'prefer');
  step.secrets.add(connectionString);
  const manifests = renderAll(s, { connectionString, redisPassword: s.withRedis ? await redisPassword(step) : undefined });
  const settings = renderSettings(
    s.namespace,
    'dapr',
    { 'app.kubernetes.io/name': 'dapr', 'app.kubernetes.io/component': 'dapr' },
    {
      withRedis: String(s.withRedis),
      withZipkin: String(s.withZipkin),
      networkPolicies: String(s.networkPolicies),
    },
  );
  return [...manifests, settings];
}

/** --diff: the objects as deploy would apply them now (reads only: the role is not touched), and the release's changes. */
async function desired(step: StepCtx): Promise<Desired> {
  const remembered = await rememberedSettings(step, 'dapr');
  const s = daprSettings(step, remembered, liveSettings(await liveControlPlane(step)));
  const release = { title: `helm release ${RELEASE} (${DAPR_NAMESPACE})`, changes: await controlPlaneChanges(step, s) };
  if (s.controlPlaneOnly) return { manifests: [], release };
  const { password } = await stateStorePassword(step);
  const ssl = await withPostgres(step, async (client) => (await client.query<{ ssl: string }>("SELECT current_setting('ssl') AS ssl")).rows[0]?.ssl === 'on');
  return { manifests: await desiredComponents(step, s, { standalone: false, remembered, password, ssl }), release };
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

async function redisPassword(step: StepCtx): Promise<string> {
  const existing = (await readSecret(step, REDIS_SECRET))?.get('password');
  const password = existing ?? generatePassword();
  step.secrets.add(password);
  step.log.info(existing ? `reusing the Redis password in Secret ${REDIS_SECRET}` : `generated a Redis password, stored in Secret ${REDIS_SECRET}`);
  return password;
}

/** When pg_authid is not readable: try to log in as the role on the same server. */
function loginCheck(admin: pg.Client): (role: string, password: string) => Promise<boolean> {
  return async (role, password) => (await tryLogin(admin, role, password)).ok;
}

/** The control plane: needs neither Kafka nor PostgreSQL, so deploy-all starts it beside them. */
async function prepare(step: StepCtx): Promise<void> {
  if (step.config.noCluster) return;
  await runActions(step, controlPlaneActions(step, daprSettings(step)), { standalone: false, remembered: {} });
}

async function deploy(step: StepCtx, o: DeployOptions = {}): Promise<void> {
  if (step.config.noCluster) {
    step.log.warn('--no-cluster: Dapr runs only in a cluster; nothing to do for it');
    return;
  }
  const remembered = await rememberedSettings(step, 'dapr');
  const s = daprSettings(step, remembered);
  for (const why of s.why) step.log.info(why);
  if (!s.zipkinEndpoint && step.config.options.given(SAMPLING_FLAG)) {
    step.log.warn('--tracing-sampling-rate has no effect without --zipkin-endpoint: no collector, so no spans are exported');
  }
  const run: DaprRun = { standalone: o.dependenciesReady !== true, remembered };
  if (!o.prepared) await runActions(step, controlPlaneActions(step, s), run);
  if (s.controlPlaneOnly) {
    step.log.info('--control-plane-only: components, Configuration, Resiliency and the state-store role left out');
    await showDaprStatus(step);
    return;
  }
  await runActions(step, componentActions(step, s), run);
  if (run.changed) {
    step.log.info('running Dapr apps load components at start: restart them to pick up a change (kubectl rollout restart deployment -n ' + s.namespace + ')');
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
    await controlPlaneChecks(step, controlPlaneOf(daprSettings(step, {}, liveSettings(await liveControlPlane(step))).scheduler));
  } catch (err) {
    step.check('control plane', false, errorMessage(err).split('\n')[0]!);
  }
  const { withRedis } = await objectChecks(step);
  const o = step.config.options;
  await zipkinCheck(step, o.on(SKIP_PROBE_FLAG));
  if (o.on(SKIP_PROBE_FLAG)) {
    step.log.warn('--skip-probe: no sidecar was started; the components were checked as objects only');
    step.check('probe', true, 'skipped (--skip-probe)');
    return;
  }
  await probeChecksEndToEnd(step, {
    image: o.get(PROBE_IMAGE_FLAG) ?? PROBE_IMAGE,
    timeoutMs: o.get(PROBE_TIMEOUT_FLAG) ?? Number(PROBE_TIMEOUT_FLAG.default),
    withRedis,
  });
}

/** When a collector was deployed (--with-zipkin): it is ready and answers on its health endpoint. */
async function zipkinCheck(step: StepCtx, objectsOnly: boolean): Promise<void> {
  const deployment = await step.kube.getOptional<{ status?: { readyReplicas?: number } }>('deployment', 'zipkin').catch(() => undefined);
  if (!deployment) return;
  const ready = (deployment.status?.readyReplicas ?? 0) > 0;
  if (!ready || objectsOnly) {
    step.check('zipkin', ready, ready ? 'deployment/zipkin ready (not called: --skip-probe)' : 'deployment/zipkin has no ready pod');
    return;
  }
  try {
    const forward = new PortForward(step, { resource: 'svc/zipkin', remotePort: 9411 });
    const port = await forward.start();
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) });
    step.check('zipkin', res.ok, `the collector answers GET /health with ${res.status} (through port-forward 127.0.0.1:${port})`);
  } catch (err) {
    step.check('zipkin', false, `the collector does not answer: ${errorMessage(err).split('\n')[0]}`);
  }
}

export const DAPR_CONTROL_PLANE_FLAG = booleanFlag(
  'dapr-control-plane',
  `destroy-all: also uninstall the cluster-wide Dapr control plane (helm release ${RELEASE} in ${DAPR_NAMESPACE}) when the kit did not install it or another namespace still has Dapr components`,
);

/**
 * The control plane serves every namespace of the cluster, so destroy-all removes it only when the kit installed it
 * (the release carries the kit's label) and no Dapr component outside this stack's namespace uses it, unless
 * --dapr-control-plane says so. Its scheduler volumes and dapr-system go only with --purge, and only with it.
 */
async function planControlPlane(ctx: Ctx, o: { purge: boolean; force: boolean }): Promise<ClusterWidePlan> {
  const helm = helmFor(ctx);
  const title = `Dapr control plane (helm release ${RELEASE} in ${DAPR_NAMESPACE}, cluster-wide)`;
  const release = await helm.release(RELEASE, DAPR_NAMESPACE);
  if (!release) return { title, remove: false, why: `no helm release ${RELEASE} in ${DAPR_NAMESPACE}`, objects: [] };
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

async function removeControlPlane(step: StepCtx, plan: ClusterWidePlan, o: { purge: boolean }): Promise<void> {
  if (!plan.remove) return;
  const helm = helmFor(step);
  if (await helm.release(RELEASE, DAPR_NAMESPACE)) {
    await helm.uninstall(RELEASE, DAPR_NAMESPACE);
    step.change(`helm release ${RELEASE}`, 'deleted');
    step.log.info(`helm release ${RELEASE} uninstalled (the dapr.io CRDs stay: other namespaces may use them)`);
  }
  if (!o.purge) {
    step.log.info(`kept the scheduler volumes and namespace ${DAPR_NAMESPACE}; --purge removes them`);
    return;
  }
  // The chart's claims carry the chart's labels, not the kit's: they are the release's, which was just removed.
  const r = await step.kube.run(['delete', 'pvc', '-n', DAPR_NAMESPACE, '-l', 'app=dapr-scheduler-server', '--ignore-not-found', '--wait=false', '-o', 'name']);
  for (const name of r.stdout.split('\n').filter(Boolean)) step.change(`${name} (${DAPR_NAMESPACE})`, 'deleted');
  await step.kube.run(['delete', 'namespace', DAPR_NAMESPACE, '--ignore-not-found', '--wait=false']);
  step.change(`namespace/${DAPR_NAMESPACE}`, 'deleted');
}

export const dapr: Component = {
  name: 'dapr',
  title: 'Dapr',
  budgetMs: BUDGET_MS,
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
  deployFlags: DEPLOY_FLAGS,
  verifyFlags: VERIFY_FLAGS,
  extraNamespaces: [DAPR_NAMESPACE],
  clusterOnly: true,
  /** The chart's images (from its values) and the probe's. */
  images: (ctx: Ctx) => [
    ...daprChartImages(readVersions().dapr.version, daprRegistry(ctx.root), { scheduler: !ctx.config.options.on(NO_SCHEDULER_FLAG) }),
    ctx.config.options.get(PROBE_IMAGE_FLAG) ?? PROBE_IMAGE,
  ],
  /** The control plane's requests as k8s/dapr/values.yaml sets them; without the scheduler's with --no-scheduler. */
  extraRequests: (ctx: Ctx) => controlPlaneRequests(loadValues(path.join(REPO_ROOT, VALUES_FILE)), controlPlaneOf(!ctx.config.options.on(NO_SCHEDULER_FLAG))),

  /** The chart's own objects (CRDs, ClusterRoles, the injector webhook: the cluster-wide part), via `helm template`. */
  async renderExtra(ctx: Ctx) {
    if (ctx.config.noCluster) return undefined;
    const s = daprSettings(ctx);
    const title = `the Dapr chart's objects (${s.chart.describe}), as helm would install them`;
    const upgrade = upgradeOptions(s);
    const args = [
      'template',
      RELEASE,
      ...chartArgs(upgrade.chart),
      '--namespace',
      DAPR_NAMESPACE,
      '--include-crds',
      ...(upgrade.valuesFiles ?? []).flatMap((f) => ['--values', f]),
      ...Object.entries(upgrade.setString ?? {}).flatMap(([k, v]) => ['--set-string', `${k}=${v}`]),
    ];
    try {
      const r = await ctx.exec('helm', args, { quiet: true, timeoutMs: 60_000 });
      // The chart's Secrets (certificates sentry fills in) are shown like the kit's: keys only.
      return { title, yaml: yamlStream(redactSecrets(parseManifests(r.stdout, 'helm template'))) };
    } catch (err) {
      return { title, skipped: err instanceof EnvironmentError ? 'helm is not installed' : `helm template failed: ${errorMessage(err).split('\n')[0]}` };
    }
  },

  async plan(ctx: Ctx): Promise<Plan> {
    if (ctx.config.noCluster) return { actions: ['--no-cluster: nothing to do for Dapr (it runs only in a cluster)'], manifests: [] };
    const s = daprSettings(ctx);
    const manifests = s.controlPlaneOnly
      ? []
      : redactSecrets(renderAll(s, { connectionString: '<generated on first deploy>', redisPassword: '<generated on first deploy>' }));
    return { actions: planLines([...controlPlaneActions(ctx, s), ...(s.controlPlaneOnly ? [] : componentActions(ctx, s))]), manifests };
  },
  dependsOn: ['kafka', 'postgres'],
  helmReleases: [{ name: RELEASE, namespace: DAPR_NAMESPACE }],
  prepare,
  deploy,
  desired,
  verify,
  // The PostgreSQL role dapr_state and schema dapr stay with the PostgreSQL data (a new install resets the password).
  owned: [
    { kinds: 'components.dapr.io,configurations.dapr.io,resiliencies.dapr.io', selector: COMPONENT_SELECTOR },
    { kinds: 'configmap', selector: COMPONENT_SELECTOR },
    { kinds: 'statefulset,service,networkpolicy', selector: REDIS_SELECTOR },
    { kinds: 'deployment,service,networkpolicy', selector: ZIPKIN_SELECTOR },
    {
      kinds: 'secret,pvc',
      selector: COMPONENT_SELECTOR,
      data: `the state-store and Redis Secrets (${STATESTORE_SECRET}, ${REDIS_SECRET}) and the Redis volume`,
    },
  ],
  clusterWide: { plan: planControlPlane, remove: removeControlPlane, forceFlag: DAPR_CONTROL_PLANE_FLAG },
};
