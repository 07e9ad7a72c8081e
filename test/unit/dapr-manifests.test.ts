// Rendering of the Dapr chart values and of the kit's Dapr objects: laptop sizing, hardening, no plaintext secret,
// metadata keys that components-contrib knows, scopes, tracing, resiliency.

import { libpqConnectionString } from '../../scripts/lib/components/shared/postgres-topology.js';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  expectedComponents,
  renderAll,
  renderComponents,
  renderConfiguration,
  renderRedis,
  renderResiliency,
  renderZipkin,
} from '../../scripts/lib/components/dapr/manifests.js';
import { COMPONENT_SELECTOR, zipkinEndpointIn, KAFKA_PROTOCOL_VERSION, PROBE_IMAGE, VALUES_FILE } from '../../scripts/lib/components/dapr/settings.js';
import { inClusterTarget } from '../../scripts/lib/components/dapr/statestore.js';
import { CONTROL_PLANE, controlPlaneRequests, desiredValues, flattenValues, loadValues } from '../../scripts/lib/components/dapr/values.js';
import { parseMemory } from '../../scripts/lib/kube/quantity.js';
import { redactSecrets, type Manifest } from '../../scripts/lib/kube/manifests.js';
import { readVersions, REPO_ROOT } from '../../scripts/lib/core/repo.js';

type Any = Manifest & Record<string, any>;

const PASSWORD = 'PwUnderTest_0123456789abcdefXYZ';
const REDIS_PASSWORD = 'RedisPw_9876543210zyxwvutsrqpo';
const settings = {
  namespace: 'learnflow',
  consumerGroup: 'learnflow-consumers',
  samplingRate: '1',
  zipkinEndpoint: zipkinEndpointIn('learnflow'),
  withRedis: true,
};
const connectionString = libpqConnectionString(inClusterTarget('learnflow'), PASSWORD);
const all = renderAll(settings, { connectionString, redisPassword: REDIS_PASSWORD }) as Any[];
const find = (kind: string, name: string) => all.find((m) => m.kind === kind && m.metadata.name === name)!;
const meta = (c: Any) => new Map<string, any>(c.spec.metadata.map((m: any) => [m.name, m]));

/**
 * Metadata names per component type, from components-contrib v1.18.4 (the version github.com/dapr/dapr v1.18.3
 * requires): pubsub/kafka/metadata.yaml, state/postgresql/v2/metadata.yaml, state/redis/metadata.yaml. A key not
 * listed here is silently ignored by daprd: the typo test.
 */
const KNOWN_METADATA: Record<string, string[]> = {
  'pubsub.kafka': [
    'brokers',
    'consumerGroup',
    'clientID',
    'initialOffset',
    'maxMessageBytes',
    'consumeRetryInterval',
    'consumeRetryEnabled',
    'heartbeatInterval',
    'sessionTimeout',
    'version',
    'skipVerify',
    'disableTls',
    'channelBufferSize',
    'consumerFetchMin',
    'clientConnectionTopicMetadataRefreshInterval',
    'clientConnectionKeepAliveInterval',
    'dialTimeout',
    'readTimeout',
    'writeTimeout',
    'metadataTimeout',
    'producerRequiredAcks',
    'producerRetryMax',
    'consumerFetchDefault',
    'compression',
    'consumerGroupRebalanceStrategy',
    'excludeHeaderMetaRegex',
    'authType',
    'saslUsername',
    'saslPassword',
    'saslMechanism',
    'caCert',
    'clientCert',
    'clientKey',
    'escapeHeaders',
    'useAvroJSON',
    // Not in metadata.yaml: read with the prefix "backOff" by dapr/kit retry.DecodeConfigWithPrefix
    // (common/component/kafka/kafka.go); dapr/kit retry/retry.go names the fields.
    'backOffPolicy',
    'backOffDuration',
    'backOffInitialInterval',
    'backOffRandomizationFactor',
    'backOffMultiplier',
    'backOffMaxInterval',
    'backOffMaxElapsedTime',
    'backOffMaxRetries',
  ],
  'state.postgresql': [
    'connectionString',
    'timeout',
    'tablePrefix',
    'metadataTableName',
    'cleanupInterval',
    'maxConns',
    'connectionMaxIdleTime',
    'queryExecMode',
    'host',
    'hostaddr',
    'port',
    'database',
    'user',
    'password',
    'sslRootCert',
  ],
  'state.redis': [
    'redisHost',
    'redisPort',
    'redisUsername',
    'redisPassword',
    'enableTLS',
    'redisType',
    'redisDB',
    'redisMaxRetries',
    'redisMinRetryInterval',
    'redisMaxRetryInterval',
    'dialTimeout',
    'readTimeout',
    'writeTimeout',
    'poolSize',
    'poolTimeout',
    'maxConnAge',
    'minIdleConns',
    'idleCheckFrequency',
    'idleTimeout',
    'ttlInSeconds',
    'queryIndexes',
    'failover',
    'sentinelMasterName',
  ],
};

describe('chart values (k8s/dapr/values.yaml)', () => {
  const values = loadValues(path.join(REPO_ROOT, VALUES_FILE)) as Record<string, any>;

  it('turns HA off and sizes the scheduler volume for a laptop', () => {
    expect(values.global.ha.enabled).toBe(false);
    expect(values.dapr_scheduler.cluster.storageSize).toBe('2Gi');
    expect(values.dapr_scheduler.cluster.inMemoryStorage).toBeUndefined();
  });

  it('gives the scheduler an etcd that cannot fill its volume: compaction, a quota below the volume, few snapshots', () => {
    const s = values.dapr_scheduler;
    expect(s).toMatchObject({ etcdCompactionMode: 'periodic', etcdCompactionRetention: '10m', etcdMaxSnapshots: 3, etcdMaxWals: 3 });
    expect(parseMemory(s.etcdSpaceQuota)).toBeLessThanOrEqual(parseMemory(s.cluster.storageSize) / 2);
    expect(parseMemory(s.etcdSpaceQuota)).toBeGreaterThanOrEqual(1024 ** 3);
  });

  it('knows the scheduler runs 3 replicas whatever the values say (the chart hard-wires it since 1.15)', () => {
    expect(CONTROL_PLANE.find((w) => w.name === 'dapr-scheduler-server')!.replicas).toBe(3);
    expect(CONTROL_PLANE.filter((w) => w.name !== 'dapr-scheduler-server').every((w) => w.replicas === 1)).toBe(true);
    // No knob that the chart ignores, so nobody believes it works.
    expect(flattenValues(values).some((l) => /scheduler.*replica/i.test(l))).toBe(false);
  });

  it('hardens sidecars and the control plane', () => {
    expect(values.dapr_sidecar_injector.sidecarDropALLCapabilities).toBe(true);
    expect(values.global.seccompProfile).toBe('RuntimeDefault');
    expect(values.dapr_rbac.secretReader.enabled).toBe(false);
  });

  it('gives every control-plane workload requests, a CPU limit and no memory limit (Dapr production guidance), and sums them for preflight', () => {
    for (const w of CONTROL_PLANE) {
      expect(values[w.valuesKey].resources.requests, w.valuesKey).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(values[w.valuesKey].resources.limits, w.valuesKey).toEqual({ cpu: expect.any(String) });
    }
    // operator 50m/64Mi, sentry, injector, placement 50m/32Mi each, scheduler 3 x 50m/64Mi
    expect(controlPlaneRequests(values)).toEqual({ cpuMillis: 350, memoryBytes: (64 + 32 * 3 + 64 * 3) * 1024 ** 2 });
    expect(controlPlaneRequests({ ...values, global: { ha: { enabled: true } } }).cpuMillis).toBe(750);
  });

  it('adds the image tag a local chart needs to what `helm get values` must show', () => {
    const desired = desiredValues(values, { 'global.tag': '1.18.3' }) as Record<string, any>;
    expect(desired.global.tag).toBe('1.18.3');
    expect(desired.global.ha.enabled).toBe(false);
    expect(values.global.tag).toBeUndefined(); // not mutated
    expect(isDeepStrictEqual(desired, JSON.parse(JSON.stringify(desired)))).toBe(true);
    expect(isDeepStrictEqual(desired, values)).toBe(false);
  });
});

describe('components', () => {
  it('puts the state store password only in the Secret, and the Secret only in stringData', () => {
    for (const m of all.filter((x) => x.kind !== 'Secret')) {
      const text = stringify(m);
      expect(text, `${m.kind}/${m.metadata.name}`).not.toContain(PASSWORD);
      expect(text, `${m.kind}/${m.metadata.name}`).not.toContain(REDIS_PASSWORD);
      expect(text).not.toMatch(/password=/i);
    }
    const secret = find('Secret', 'dapr-statestore');
    expect(secret.stringData.connectionString).toBe(connectionString);
    expect(JSON.stringify(redactSecrets(all))).not.toContain(PASSWORD);
    expect(JSON.stringify(redactSecrets(all))).not.toContain(REDIS_PASSWORD);
  });

  it('reads every secret through secretKeyRef and the kubernetes secret store', () => {
    const statestore = find('Component', 'statestore');
    expect(meta(statestore).get('connectionString')).toEqual({ name: 'connectionString', secretKeyRef: { name: 'dapr-statestore', key: 'connectionString' } });
    expect(statestore.auth).toEqual({ secretStore: 'kubernetes' });
    const redis = find('Component', 'statestore-redis');
    expect(meta(redis).get('redisPassword')).toEqual({ name: 'redisPassword', secretKeyRef: { name: 'redis-credentials', key: 'password' } });
    expect(redis.auth).toEqual({ secretStore: 'kubernetes' });
    // No metadata entry has both a value and a reference, and every plain value is a string.
    for (const c of all.filter((m) => m.kind === 'Component')) {
      for (const m of c.spec.metadata) {
        expect('value' in m !== 'secretKeyRef' in m, `${c.metadata.name}.${m.name}`).toBe(true);
        if ('value' in m) expect(typeof m.value, `${c.metadata.name}.${m.name}`).toBe('string');
      }
    }
  });

  it('uses only metadata keys components-contrib knows, with the required ones present', () => {
    for (const c of all.filter((m) => m.kind === 'Component')) {
      const unknown = c.spec.metadata.map((m: any) => m.name).filter((n: string) => !KNOWN_METADATA[c.spec.type]!.includes(n));
      expect(unknown, c.metadata.name).toEqual([]);
    }
    expect([...meta(find('Component', 'kafka-pubsub')).keys()]).toEqual(expect.arrayContaining(['brokers', 'authType']));
    expect([...meta(find('Component', 'statestore')).keys()]).toContain('connectionString');
    expect(expectedComponents(true).map((c) => `${c.name}:${c.type}:${c.version}`)).toEqual(
      all.filter((m) => m.kind === 'Component').map((c) => `${c.metadata.name}:${c.spec.type}:${c.spec.version}`),
    );
  });

  it('configures kafka-pubsub as seed 000 says, on the in-cluster Service', () => {
    const m = meta(find('Component', 'kafka-pubsub'));
    expect(m.get('brokers').value).toBe('kafka.learnflow.svc.cluster.local:9092');
    expect(m.get('authType').value).toBe('none');
    expect(m.get('consumerGroup').value).toBe('learnflow-consumers');
    expect(m.get('maxMessageBytes').value).toBe('10485760');
    expect(m.get('consumeRetryInterval').value).toBe('200ms');
    expect(m.get('initialOffset').value).toBe('oldest');
    expect(m.get('clientID').value).toBe('learnflow-{appID}');
  });

  it('bounds message redelivery with the backOff keys (consumeRetryInterval does not pace it)', () => {
    // dapr/kit retry.DefaultConfig: constant 5 s, MaxRetries -1 (unlimited): a rejected message would block its
    // partition for the whole consumer group. The platform's bound: 3 retries, 200 ms apart.
    const m = meta(find('Component', 'kafka-pubsub'));
    expect(m.get('consumeRetryEnabled').value).toBe('true');
    expect(m.get('backOffPolicy').value).toBe('constant');
    expect(m.get('backOffDuration').value).toBe('200ms');
    expect(Number(m.get('backOffMaxRetries').value)).toBe(3);
  });

  it('speaks a Kafka protocol version the pinned Kafka accepts (not the old 0.10 example, not newer than the broker)', () => {
    const version = meta(find('Component', 'kafka-pubsub')).get('version').value as string;
    expect(version).toBe(KAFKA_PROTOCOL_VERSION);
    const [major, minor] = version.split('.').map(Number);
    const [kMajor, kMinor] = readVersions().kafka.version.split('.').map(Number);
    expect(major).toBe(kMajor); // Kafka 4 removed the protocol versions older than 2.1 (KIP-896)
    expect(minor!).toBeLessThanOrEqual(kMinor!);
  });

  it('keeps the state tables in the schema of the state store role', () => {
    const m = meta(find('Component', 'statestore'));
    const statestore = find('Component', 'statestore');
    expect(statestore.spec).toMatchObject({ type: 'state.postgresql', version: 'v2' });
    expect(m.get('tablePrefix').value).toBe('dapr.');
    expect(m.get('metadataTableName').value).toBe('dapr.dapr_metadata');
    expect(connectionString).toMatch(/^host=postgresql\.learnflow\.svc\.cluster\.local port=5432 user=dapr_state password=\S+ dbname=learnflow /);
  });

  it('scopes the Redis store to the progress agent and renames seed 000 maxRetries to redisMaxRetries', () => {
    const redis = find('Component', 'statestore-redis');
    expect(redis.scopes).toEqual(['progress-agent']);
    const m = meta(redis);
    expect(m.get('redisHost').value).toBe('redis.learnflow.svc.cluster.local:6379');
    expect(m.get('redisMaxRetries').value).toBe('3');
    expect(m.has('maxRetries')).toBe(false);
    // 2s, not LearnFlow's 100ms: measured single commands took up to 587 ms (bench/redis-sizing.sh, docs/dapr.md#redis).
    expect(['poolSize', 'readTimeout', 'writeTimeout'].map((k) => m.get(k).value)).toEqual(['10', '2s', '2s']);
    expect(find('Component', 'kafka-pubsub').scopes).toBeUndefined();
    expect(find('Component', 'statestore').scopes).toBeUndefined();
  });

  it('labels every object so destroy can find it, and puts it in the namespace', () => {
    const [k1, k2] = COMPONENT_SELECTOR.split(',').map((s) => s.split('='));
    for (const m of renderAll({ ...settings, namespace: 'other-ns' }, { connectionString, redisPassword: REDIS_PASSWORD })) {
      expect(m.metadata.namespace).toBe('other-ns');
      expect(m.metadata.labels?.[k1![0]!], `${m.kind}/${m.metadata.name}`).toBe(k1![1]);
      expect(m.metadata.labels?.[k2![0]!]).toBe(k2![1]);
    }
  });

  it('leaves Redis out unless asked', () => {
    const names = renderAll({ ...settings, withRedis: false }, { connectionString }).map((m) => `${m.kind}/${m.metadata.name}`);
    expect(names).toEqual([
      'Secret/dapr-statestore',
      'Component/kafka-pubsub',
      'Component/statestore',
      'Configuration/learnflow-config',
      'Resiliency/learnflow-resiliency',
    ]);
    expect(renderComponents(settings, connectionString)).toHaveLength(3);
  });
});

describe('Redis', () => {
  const r = renderRedis('learnflow', REDIS_PASSWORD) as Any[];
  const sts = r.find((m) => m.kind === 'StatefulSet')!;

  it('admits only pods of the namespace, on 6379, like Kafka and PostgreSQL, and can be turned off', () => {
    const np = r.find((m) => m.kind === 'NetworkPolicy')!;
    expect(np.spec.podSelector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress).toEqual([{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 6379 }] }]);
    expect(renderRedis('learnflow', REDIS_PASSWORD, { networkPolicies: false }).some((m) => m.kind === 'NetworkPolicy')).toBe(false);
  });
  const pod = sts.spec.template.spec;
  const c = pod.containers[0];

  it('pins the official image from k8s/versions.json and passes the password by file, not argv', () => {
    const v = readVersions().redis;
    expect(c.image).toBe(`${v.image}:${v.version}`);
    expect(c.image).not.toMatch(/bitnami|latest/);
    expect(JSON.stringify(c.args)).not.toContain(REDIS_PASSWORD);
    expect(JSON.stringify(c.env ?? [])).not.toContain(REDIS_PASSWORD);
    const secret = r.find((m) => m.kind === 'Secret')!;
    expect(secret.stringData['redis.conf']).toContain(`requirepass ${REDIS_PASSWORD}`);
    expect(secret.stringData['redis.conf']).toContain('maxmemory-policy noeviction');
  });

  it('meets Pod Security "restricted"', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('is sized as measured: maxmemory at most a third of the memory limit (the AOF rewrite forks), 500m CPU', () => {
    const conf = r.find((m) => m.kind === 'Secret')!.stringData['redis.conf'] as string;
    const maxmemory = /^maxmemory (\d+)mb$/m.exec(conf)![1]!;
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(Number(maxmemory) * 2 ** 20 * 3).toBeLessThanOrEqual(parseMemory(c.resources.limits.memory)!);
    expect(c.resources.limits).toEqual({ cpu: '500m', memory: '384Mi' });
  });
});

describe('Configuration and Resiliency', () => {
  it('traces to a named Zipkin collector at the chosen sampling rate', () => {
    const [cfg] = renderConfiguration({ namespace: 'learnflow', samplingRate: '0.25', zipkinEndpoint: 'http://zipkin:9411/api/v2/spans' }) as Any[];
    expect(cfg!.metadata.name).toBe('learnflow-config');
    expect(cfg!.spec.tracing).toEqual({ samplingRate: '0.25', zipkin: { endpointAddress: 'http://zipkin:9411/api/v2/spans' } });
    expect(zipkinEndpointIn('learnflow')).toBe('http://zipkin.learnflow.svc.cluster.local:9411/api/v2/spans');
  });

  it('exports no spans when no collector is named (the kit deploys none by default)', () => {
    const [cfg] = renderConfiguration({ namespace: 'learnflow', samplingRate: '1', zipkinEndpoint: undefined }) as Any[];
    expect(cfg!.spec.tracing).toEqual({ samplingRate: '0' });
    expect(JSON.stringify(cfg)).not.toContain('zipkin');
  });

  it('retries publishes as seed 000 says and breaks the circuit on a failing component', () => {
    const [res] = renderResiliency('learnflow') as Any[];
    const p = res!.spec.policies;
    expect(p.retries.publish).toEqual({ policy: 'constant', duration: '200ms', maxRetries: 3 });
    expect(p.retries.delivery).toEqual({ policy: 'constant', duration: '200ms', maxRetries: 3 });
    expect(p.circuitBreakers.component.trip).toBe('consecutiveFailures >= 5');
    expect(res!.spec.targets.components['kafka-pubsub'].outbound).toEqual({ timeout: 'publish', retry: 'publish', circuitBreaker: 'component' });
    expect(res!.spec.targets.components['kafka-pubsub'].inbound.timeout).toBeUndefined();
    // Dapr keys component breakers by component name only (pkg/resiliency/resiliency.go): an inbound breaker would be
    // the outbound one, tripped by one poison message. None inbound, on any component.
    for (const [name, t] of Object.entries<any>(res!.spec.targets.components)) expect(t.inbound?.circuitBreaker, name).toBeUndefined();
    expect(Object.keys(res!.spec.targets.components)).toEqual(['kafka-pubsub', 'statestore']);
  });
});

describe('pins', () => {
  it('pins the probe image and the Dapr version', () => {
    expect(PROBE_IMAGE).toMatch(/^curlimages\/curl:\d+\.\d+\.\d+$/);
    expect(readVersions().dapr.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('--with-zipkin', () => {
  const z = renderZipkin('learnflow') as Any[];
  const dep = z.find((m) => m.kind === 'Deployment')!;
  const c = dep.spec.template.spec.containers[0];

  it('deploys the official collector at zipkin:9411, pinned, restricted, reachable only from the namespace', () => {
    const v = readVersions().zipkin;
    expect(c.image).toBe(`${v.image}:${v.version}`);
    expect(z.find((m) => m.kind === 'Service')!.metadata.name).toBe('zipkin');
    expect(z.find((m) => m.kind === 'Service')!.spec.ports).toEqual([{ name: 'http', port: 9411, targetPort: 'http' }]);
    expect(dep.spec.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: expect.any(Number),
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(z.find((m) => m.kind === 'NetworkPolicy')!.spec.ingress).toEqual([{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 9411 }] }]);
  });

  it("keeps the image's exit on OutOfMemoryError: the JVM must die, its TCP liveness probe would keep answering", () => {
    const opts = (c.env as { name: string; value: string }[]).find((e) => e.name === 'JAVA_OPTS')!.value.split(' ');
    expect(opts).toContain('-XX:+ExitOnOutOfMemoryError');
    expect(opts).toEqual(expect.arrayContaining(['-Xms128m', '-Xmx128m']));
    expect(c.livenessProbe.tcpSocket).toBeDefined();
  });

  it('points the Configuration at it, and without it exports nothing', () => {
    const withIt = renderAll({ ...settings, withRedis: false, withZipkin: true, zipkinEndpoint: zipkinEndpointIn('learnflow') }, { connectionString }) as Any[];
    expect(withIt.find((m) => m.kind === 'Configuration')!.spec.tracing).toEqual({
      samplingRate: '1',
      zipkin: { endpointAddress: 'http://zipkin.learnflow.svc.cluster.local:9411/api/v2/spans' },
    });
    expect(withIt.some((m) => m.kind === 'Deployment' && m.metadata.name === 'zipkin')).toBe(true);
    const without = renderAll({ ...settings, withRedis: false, zipkinEndpoint: undefined }, { connectionString }) as Any[];
    expect(without.some((m) => m.metadata.name === 'zipkin')).toBe(false);
  });
});
