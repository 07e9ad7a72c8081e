// Renders k8s/dapr/*.yaml: the state store's Secret and the two components, the Configuration, the
// Resiliency, and (with --with-redis) Redis with its scoped component.

import { loadManifests, type Manifest } from '../../kube/manifests.js';
import { readVersions } from '../../core/repo.js';
import { inClusterBootstrap, MAX_MESSAGE_BYTES } from '../shared/kafka-topology.js';
import { KAFKA_PROTOCOL_VERSION, PUBSUB, REDIS_SCOPE, REDIS_STATESTORE, STATE_SCHEMA, STATESTORE, STATESTORE_SECRET, type DaprSettings } from './settings.js';

/**
 * Measured with bench/redis-sizing.sh. maxmemory is at most a third of the memory limit: an AOF rewrite forks and
 * the child's copied pages count against the same limit (200mb in 256Mi peaked at 246 MiB, 10 MiB short of an OOM
 * kill; 128mb in 384Mi at 149 MiB). 500m CPU: at 250m nearly every 100 ms period was throttled under load.
 */
export const REDIS_RESOURCES = { cpuLimit: '500m', memoryLimit: '384Mi', maxMemory: '128mb' } as const;
/** The statestore-redis component's read and write timeouts: see the comment in k8s/dapr/redis.yaml. */
export const REDIS_TIMEOUT = '2s';

type RenderSettings = Pick<DaprSettings, 'namespace' | 'consumerGroup' | 'samplingRate' | 'zipkinEndpoint' | 'withRedis'> &
  Partial<Pick<DaprSettings, 'networkPolicies' | 'withZipkin'>>;

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
  const out = loadManifests('dapr/configuration.yaml', { namespace: s.namespace }) as (Manifest & { spec: { tracing: Record<string, unknown> } })[];
  if (s.zipkinEndpoint) out[0]!.spec.tracing = { samplingRate: s.samplingRate, zipkin: { endpointAddress: s.zipkinEndpoint } };
  return out;
}

export function renderResiliency(namespace: string): Manifest[] {
  return loadManifests('dapr/resiliency.yaml', { namespace, pubsubName: PUBSUB, stateStoreName: STATESTORE });
}

export function renderRedis(namespace: string, password: string, opts: { networkPolicies?: boolean } = {}): Manifest[] {
  const v = readVersions().redis;
  const values = {
    namespace,
    password,
    image: `${v.image}:${v.version}`,
    version: v.version,
    redisScope: REDIS_SCOPE,
    redisTimeout: REDIS_TIMEOUT,
    ...REDIS_RESOURCES,
  };
  const policies = opts.networkPolicies === false ? [] : loadManifests('dapr/redis-networkpolicy.yaml', { namespace });
  return [...loadManifests('dapr/redis.yaml', values), ...policies];
}

/** Everything deploy applies into the namespace, in apply order (Secrets before the components that read them). */
export function renderAll(s: RenderSettings, secrets: { connectionString: string; redisPassword?: string }): Manifest[] {
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
