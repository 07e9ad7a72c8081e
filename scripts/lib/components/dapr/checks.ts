// verify-dapr's object checks: the release, the CRDs, the components and their Secret, the Configuration and
// Resiliency, the dependencies, Zipkin. Every check is recorded; none stops the others.

import type { StepCtx } from '../../run/context.js';
import { errorMessage } from '../../core/errors.js';
import { describeRelease } from '../../kube/helm.js';
import { PortForward } from '../../run/port-forward.js';
import { liveControlPlane, readDependencies, titlesOf, type Dependency } from './controlplane.js';
import { expectedComponents } from './manifests.js';
import { CONFIGURATION, DAPR_NAMESPACE, REDIS_SCOPE, REDIS_SECRET, REDIS_STATESTORE, RELEASE, RESILIENCY, STATESTORE_SECRET } from './settings.js';
import { readSecret } from '../../kube/secrets.js';
import { runCheck } from '../../run/steps.js';

const DAPR_CRDS = ['components.dapr.io', 'configurations.dapr.io', 'resiliencies.dapr.io', 'subscriptions.dapr.io'] as const;

interface DaprObject {
  kind: string;
  metadata: { name: string };
  spec?: { type?: string; version?: string };
  scopes?: string[];
}

/** Compares the Components in the namespace with what deploy applies. */
function judgeComponents(found: readonly DaprObject[], withRedis: boolean): [boolean, string] {
  const problems: string[] = [];
  const seen: string[] = [];
  for (const want of expectedComponents(withRedis)) {
    const c = found.find((f) => f.metadata.name === want.name)?.spec;
    if (!c) problems.push(`${want.name} missing`);
    else if (c.type !== want.type || c.version !== want.version) problems.push(`${want.name} is ${c.type} ${c.version}, expected ${want.type} ${want.version}`);
    else seen.push(`${want.name} (${want.type} ${want.version})`);
  }
  const redis = found.find((f) => f.metadata.name === REDIS_STATESTORE);
  if (redis && !(redis.scopes ?? []).includes(REDIS_SCOPE)) problems.push(`${REDIS_STATESTORE} is not scoped to ${REDIS_SCOPE}`);
  return [problems.length === 0, problems.length ? problems.join('; ') : seen.join(', ')];
}

/** Runs the object checks; returns whether the Redis store is deployed (the probe then checks its scope). */
export async function objectChecks(step: StepCtx, deps: readonly Dependency[]): Promise<{ withRedis: boolean }> {
  const ns = step.config.namespace;
  await runCheck(step, 'helm release', async () => {
    // The run's one read of the release (the control plane's settings came from it too).
    const r = (await liveControlPlane(step)).release;
    if (!r) return [false, `no release ${RELEASE} in ${DAPR_NAMESPACE}: run ./scripts/install-dapr.mts`];
    return [r.status === 'deployed', describeRelease(r)];
  });

  await runCheck(step, 'Dapr CRDs', async () => {
    const r = await step.kube.run(['get', 'crd', ...DAPR_CRDS, '--ignore-not-found', '-o', 'name'], { quiet: true });
    const present = new Set(r.stdout.split('\n').map((l) => l.replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, '').trim()));
    const missing = DAPR_CRDS.filter((c) => !present.has(c));
    return [missing.length === 0, missing.length ? `missing: ${missing.join(', ')}` : DAPR_CRDS.join(', ')];
  });

  let withRedis = false;
  await runCheck(step, 'components', async () => {
    const found = await step.kube.list<DaprObject>('components.dapr.io');
    withRedis = found.some((c) => c.metadata.name === REDIS_STATESTORE);
    return judgeComponents(found, withRedis);
  });

  await runCheck(step, 'configuration and resiliency', async () => {
    const list = await step.kube.list<DaprObject>('configurations.dapr.io,resiliencies.dapr.io');
    const missing = [
      ['Configuration', CONFIGURATION],
      ['Resiliency', RESILIENCY],
    ].filter(([kind, name]) => !list.some((o) => o.kind === kind && o.metadata.name === name));
    return [
      missing.length === 0,
      missing.length ? `missing in ${ns}: ${missing.map(([k, n]) => `${k} ${n}`).join(', ')}` : `Configuration ${CONFIGURATION}, Resiliency ${RESILIENCY}`,
    ];
  });

  await runCheck(step, 'state-store secret', async () => {
    const cs = (await readSecret(step, STATESTORE_SECRET))?.get('connectionString');
    return [
      Boolean(cs),
      cs ? `Secret ${STATESTORE_SECRET} holds connectionString` : `Secret ${STATESTORE_SECRET} or its key connectionString is missing in ${ns}`,
    ];
  });

  if (withRedis) {
    await runCheck(step, 'redis ready', async () => {
      const sts = await step.kube.getOptional<{ status?: { readyReplicas?: number }; spec?: { replicas?: number } }>('statefulset', 'redis');
      const password = (await readSecret(step, REDIS_SECRET))?.get('password');
      const ready = (sts?.status?.readyReplicas ?? 0) >= (sts?.spec?.replicas ?? 1);
      return [
        Boolean(sts) && ready && Boolean(password),
        !sts
          ? 'statefulset/redis not found'
          : !password
            ? `Secret ${REDIS_SECRET} missing`
            : `${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 1} ready`,
      ];
    });
  }

  await runCheck(step, `${titlesOf(deps)} ready`, async () => {
    const states = await readDependencies(step, deps);
    return [states.every((d) => d.ready), states.map((d) => `${d.ref.title}: ${d.ready ? 'ready' : d.state}`).join('; ')];
  });
  return { withRedis };
}

/** When a collector was deployed (--with-zipkin): it is ready and answers on its health endpoint. */
export async function zipkinCheck(step: StepCtx, objectsOnly: boolean): Promise<void> {
  const deployment = await step.kube.getOptional<{ status?: { readyReplicas?: number } }>('deployment', 'zipkin').catch(() => undefined);
  if (!deployment) return;
  const ready = (deployment.status?.readyReplicas ?? 0) > 0;
  if (!ready || objectsOnly) {
    step.check('zipkin', ready, ready ? 'deployment/zipkin ready (not called: --skip-probe)' : 'deployment/zipkin has no ready pod');
    return;
  }
  try {
    const port = await new PortForward(step, { resource: 'svc/zipkin', remotePort: 9411 }).start();
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) });
    step.check('zipkin', res.ok, `the collector answers GET /health with ${res.status} (through port-forward 127.0.0.1:${port})`);
  } catch (err) {
    step.check('zipkin', false, `the collector does not answer: ${errorMessage(err).split('\n')[0]}`);
  }
}
