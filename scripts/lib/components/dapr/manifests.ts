// Renders k8s/dapr/*.yaml: the state store's Secret and the two components, the Configuration, the
// Resiliency, and (with --with-redis) Redis with its scoped component.

import { loadManifests, readVersions, type Manifest } from '../../kube/manifests.js';
import { MAX_MESSAGE_BYTES } from '../shared/kafka-topology.js';
import { inClusterBootstrap } from '../shared/kafka-topology.js';
import {
  CONFIGURATION,
  KAFKA_PROTOCOL_VERSION,
  PUBSUB,
  REDIS_SCOPE,
  REDIS_STATESTORE,
  RESILIENCY,
  STATE_SCHEMA,
  STATESTORE,
  STATESTORE_SECRET,
  type DaprSettings,
} from './settings.js';

/**
 * Redis's limits and its maxmemory, measured with bench/redis-sizing.sh (the kit's redis.conf under these limits).
 * maxmemory is at most a third of the memory limit: an AOF rewrite forks, and the child's copied pages count
 * against the same limit (200mb in 256Mi peaked at 246 MiB held, 10 MiB short of an OOM kill; 128mb in 384Mi at
 * 149 MiB). 500m CPU: at 250m nearly every 100 ms period was throttled under load.
 */
export const REDIS_RESOURCES = { cpuLimit: '500m', memoryLimit: '384Mi', maxMemory: '128mb' } as const;
/** The statestore-redis component's read and write timeouts: see the comment in k8s/dapr/redis.yaml. */
export const REDIS_TIMEOUT = '2s';

export type RenderSettings = Pick<DaprSettings, 'namespace' | 'consumerGroup' | 'samplingRate' | 'zipkinEndpoint' | 'withRedis'> & {
  networkPolicies?: boolean;
  withZipkin?: boolean;
};

/** The collector of --with-zipkin: Service, Deployment and (unless turned off) its NetworkPolicy. */
export function renderZipkin(namespace: string, opts: { networkPolicies?: boolean } = {}): Manifest[] {
  const v = readVersions().zipkin;
  const out = loadManifests('dapr/zipkin.yaml', { namespace, image: `${v.image}:${v.version}`, version: v.version });
  return opts.networkPolicies === false ? out.filter((m) => m.kind !== 'NetworkPolicy') : out;
}

/** Secret dapr-statestore + kafka-pubsub + statestore. */
export function renderComponents(s: Pick<RenderSettings, 'namespace' | 'consumerGroup'>, connectionString: string): Manifest[] {
  return loadManifests('dapr/components.yaml', {
    namespace: s.namespace,
    secretName: STATESTORE_SECRET,
    connectionString,
    brokers: inClusterBootstrap(s.namespace),
    consumerGroup: s.consumerGroup,
    kafkaProtocolVersion: KAFKA_PROTOCOL_VERSION,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    schema: STATE_SCHEMA,
  });
}

/** Spans go only where a collector was named: a sampling rate above 0 with no endpoint would export to nowhere. */
export function renderConfiguration(s: Pick<RenderSettings, 'namespace' | 'samplingRate' | 'zipkinEndpoint'>): Manifest[] {
  const out = loadManifests('dapr/configuration.yaml', { namespace: s.namespace });
  const cfg = out[0] as (Manifest & { spec: { tracing: Record<string, unknown> } }) | undefined;
  if (cfg?.metadata.name !== CONFIGURATION) throw new Error(`k8s/dapr/configuration.yaml: expected the Configuration ${CONFIGURATION}`);
  if (s.zipkinEndpoint) cfg.spec.tracing = { samplingRate: s.samplingRate, zipkin: { endpointAddress: s.zipkinEndpoint } };
  return out;
}

export function renderResiliency(namespace: string): Manifest[] {
  const out = loadManifests('dapr/resiliency.yaml', { namespace, pubsubName: PUBSUB, stateStoreName: STATESTORE });
  if (out[0]?.metadata.name !== RESILIENCY) throw new Error(`k8s/dapr/resiliency.yaml: expected the Resiliency ${RESILIENCY}`);
  return out;
}

export function renderRedis(namespace: string, password: string, opts: { networkPolicies?: boolean } = {}): Manifest[] {
  const v = readVersions().redis;
  const policies = opts.networkPolicies === false ? [] : loadManifests('dapr/redis-networkpolicy.yaml', { namespace });
  return [...redisObjects(namespace, password, v), ...policies];
}

function redisObjects(namespace: string, password: string, v: { image: string; version: string }): Manifest[] {
  return loadManifests('dapr/redis.yaml', {
    namespace,
    password,
    image: `${v.image}:${v.version}`,
    version: v.version,
    redisScope: REDIS_SCOPE,
    redisTimeout: REDIS_TIMEOUT,
    ...REDIS_RESOURCES,
  });
}

export interface RenderSecrets {
  connectionString: string;
  redisPassword?: string;
}

/** Everything deploy applies into the namespace, in apply order (Secrets before the components that read them). */
export function renderAll(s: RenderSettings, secrets: RenderSecrets): Manifest[] {
  const out = [...renderComponents(s, secrets.connectionString), ...renderConfiguration(s), ...renderResiliency(s.namespace)];
  if (s.withRedis) out.push(...renderRedis(s.namespace, secrets.redisPassword ?? '', { networkPolicies: s.networkPolicies }));
  if (s.withZipkin) out.push(...renderZipkin(s.namespace, { networkPolicies: s.networkPolicies }));
  return out;
}

/** Component names the sidecars should load, by type. */
export function expectedComponents(withRedis: boolean): { name: string; type: string; version: string }[] {
  const out = [
    { name: PUBSUB, type: 'pubsub.kafka', version: 'v1' },
    { name: STATESTORE, type: 'state.postgresql', version: 'v2' },
  ];
  if (withRedis) out.push({ name: REDIS_STATESTORE, type: 'state.redis', version: 'v1' });
  return out;
}
