// Dapr's section of status.mts: the Helm release and the control plane in dapr-system, the components in the
// stack's namespace, Zipkin when deployed, where the state store's login is kept. Read only.

import type { StepCtx } from '../../run/context.js';
import { errorMessage } from '../../core/errors.js';
import { Helm } from '../../kube/helm.js';
import type { StatusSection, StatusView, WorkloadJson } from '../shared/status.js';
import { CONFIGURATION, DAPR_NAMESPACE, PUBSUB, RELEASE, STATESTORE, STATESTORE_SECRET } from './settings.js';

export async function daprStatus(step: StepCtx, view: StatusView): Promise<StatusSection> {
  const ns = view.namespace;
  const facts: string[] = [];
  let ok = true;
  try {
    const release = await new Helm(step.exec, step.config.context).release(RELEASE, DAPR_NAMESPACE);
    if (!release) {
      ok = false;
      facts.push(`no helm release ${RELEASE} in ${DAPR_NAMESPACE}`);
    } else {
      facts.push(`helm release ${RELEASE}: ${release.status}, chart ${release.chart}${release.app_version ? `, Dapr ${release.app_version}` : ''}`);
      const cp = await step.kube.list<WorkloadJson>('statefulset,deployment', { namespace: DAPR_NAMESPACE });
      const notReady = cp.filter((w) => (w.status?.readyReplicas ?? 0) < (w.spec?.replicas ?? 1)).map((w) => w.metadata.name);
      facts.push(`control plane: ${cp.length - notReady.length}/${cp.length} ready${notReady.length ? ` (not ready: ${notReady.join(', ')})` : ''}`);
      if (notReady.length || release.status !== 'deployed') ok = false;
    }
  } catch (err) {
    ok = false;
    facts.push(`control plane not read: ${errorMessage(err).split('\n')[0]}`);
  }
  const components = await step.kube.list<{ metadata: { name: string }; spec?: { type?: string; version?: string } }>('components.dapr.io').catch(() => []);
  facts.push(
    components.length
      ? `components: ${components.map((c) => `${c.metadata.name} (${c.spec?.type ?? '?'} ${c.spec?.version ?? ''})`.trim()).join(', ')}`
      : `no Dapr components in ${ns}`,
  );
  if (!components.length) ok = false;
  const zipkin = view.workload('Deployment', 'zipkin');
  if (zipkin) facts.push(`zipkin: ${(zipkin.status?.readyReplicas ?? 0) > 0 ? 'ready' : 'not ready'} at zipkin.${ns}.svc.cluster.local:9411`);
  return {
    component: 'Dapr',
    ok,
    facts,
    endpoints: [
      'apps: http://localhost:3500 (HTTP) and localhost:50001 (gRPC) inside a pod with the annotation dapr.io/enabled: "true"',
      `components: ${PUBSUB}, ${STATESTORE} (annotation dapr.io/config: ${CONFIGURATION})`,
    ],
    credentials: [`the state store's login dapr_state: Secret ${STATESTORE_SECRET}, key connectionString${view.missing(STATESTORE_SECRET)}`],
    next: ok ? undefined : `./scripts/install-dapr.mts -n ${ns} (then ./scripts/verify-dapr.mts)`,
  };
}

/** The end of deploy-all: how apps reach Dapr. */
export function daprConnect(): string[] {
  return [`Dapr        apps call http://localhost:3500 (${PUBSUB}, ${STATESTORE}); annotation dapr.io/config: ${CONFIGURATION}`];
}
