// Rendering of k8s/kafka/*.yaml for 1 and 3 brokers. Nothing here runs a container (no test on these machines
// does), so what the broker starts with is pinned down on paper: the env each broker gets, its listeners, the
// quorum, the replication settings, security context, probes and resources.

import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { type Manifest } from '../../scripts/lib/kube/manifests.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import { clusterIdFor } from '../../scripts/lib/components/shared/kafka-topology.js';
import {
  BROKER_ENV_CONFIGMAP,
  BROKER_ENV_DIR,
  brokerEnv,
  DATA_MOUNT,
  execEnv,
  formatEnvFile,
  KAFKA_JVM_PERFORMANCE_OPTS,
  KAFKA_RESOURCES,
  LOG4J2_FILE,
  LOG_DIRS,
  parseEnvFile,
  renderKafka,
} from '../../scripts/lib/components/kafka/manifests.js';

type Any = Manifest & Record<string, any>;
const JVM_OPTION_VARS = new Set(['KAFKA_OPTS', 'KAFKA_HEAP_OPTS', 'KAFKA_LOG4J_OPTS', 'KAFKA_JMX_OPTS', 'KAFKA_JVM_PERFORMANCE_OPTS']);
const NS = 'learnflow';

function rendered(brokers: number, ns = NS) {
  const manifests = renderKafka(ns, brokers, { clusterId: clusterIdFor(ns) });
  const find = (kind: string, name?: string) => manifests.find((m) => m.kind === kind && (!name || m.metadata.name === name)) as Any;
  const sts = find('StatefulSet', 'kafka');
  return { manifests, find, sts, pod: sts.spec.template.spec, container: sts.spec.template.spec.containers[0] };
}

describe.each([1, 3])('Kafka manifests with %i broker(s)', (brokers) => {
  const { manifests, find, sts, pod, container } = rendered(brokers);
  const rf = brokers === 1 ? 1 : 3;
  const minIsr = brokers === 1 ? 1 : 2;

  it('renders ConfigMap, Services kafka and kafka-headless, StatefulSet, NetworkPolicy, PodDisruptionBudget, all in the namespace', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ConfigMap/kafka-broker-env',
      'NetworkPolicy/kafka',
      'PodDisruptionBudget/kafka',
      'Service/kafka',
      'Service/kafka-headless',
      'StatefulSet/kafka',
    ]);
    for (const m of manifests) expect(m.metadata.namespace).toBe(NS);
    expect(sts.spec.replicas).toBe(brokers);
    expect(sts.spec.serviceName).toBe('kafka-headless');
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    // Beyond one machine: brokers spread over nodes when there are several (preferred: one node still takes them
    // all), and a drain takes one broker at a time, which the quorum and min ISR 2 of 3 brokers survive.
    const tmpl = (sts.spec as unknown as { template: { spec: { topologySpreadConstraints: object[] } } }).template.spec;
    expect(tmpl.topologySpreadConstraints).toEqual([
      expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 1 }),
    ]);
    const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget')! as unknown as { spec: { maxUnavailable: number; selector: unknown } };
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector).toEqual((sts.spec as unknown as { selector: unknown }).selector);
  });

  it('pins apache/kafka to the version in k8s/versions.json, never latest', () => {
    const v = readVersions().kafka;
    expect(container.image).toBe(`apache/kafka:${v.version}`);
    expect(v.version).toMatch(/^4\.\d+\.\d+$/);
    expect(container.image).not.toMatch(/latest|bitnami/);
    expect(sts.metadata.labels!['app.kubernetes.io/version']).toBe(v.version);
  });

  it('turns service links off (KAFKA_PORT=tcp://... would become a broker setting)', () => {
    expect(pod.enableServiceLinks).toBe(false);
    for (let i = 0; i < brokers; i++) {
      const env = brokerEnv(manifests, i);
      expect(Object.keys(env).filter((k) => /^KAFKA_(PORT|SERVICE_)/.test(k))).toEqual([]);
    }
  });

  it('runs as the image appuser under Pod Security "restricted"', () => {
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.securityContext.privileged).toBeUndefined();
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('probes with a TCP connect on the client port, never a JVM CLI', () => {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(container[probe].tcpSocket).toEqual({ port: 'client' });
      expect(container[probe].exec).toBeUndefined();
    }
    expect(container.ports).toEqual([
      { name: 'client', containerPort: 9092 },
      { name: 'controller', containerPort: 9093 },
    ]);
  });

  it('sets the resources of seed 000 and a laptop heap below the memory request', () => {
    expect(container.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } });
    const heap = brokerEnv(manifests, 0).KAFKA_HEAP_OPTS!;
    const xmx = /-Xmx(\d+)m/.exec(heap);
    expect(xmx).not.toBeNull();
    expect(Number(xmx![1])).toBeLessThan(1024);
  });

  it('keeps the log dir in a subdirectory of the volume (lost+found)', () => {
    const mount = container.volumeMounts.find((m: any) => m.name === 'data');
    expect(mount.mountPath).toBe(DATA_MOUNT);
    expect(LOG_DIRS.startsWith(`${DATA_MOUNT}/`)).toBe(true);
    expect(brokerEnv(manifests, 0).KAFKA_LOG_DIRS).toBe(LOG_DIRS);
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe(KAFKA_RESOURCES.storage);
  });

  it('starts each broker with its own env file from the ConfigMap, then the image entrypoint', () => {
    expect(container.command).toEqual(['/bin/sh', '-c']);
    expect(container.args[0]).toMatch(/^if \[ ! -w \/opt\/kafka\/config \]; then .* exit 1; fi; /);
    expect(container.args[0]).toMatch(
      new RegExp(`; set -a && \\. "${BROKER_ENV_DIR}/\\$\\{POD_NAME\\}\\.env" && set \\+a && export KAFKA_OPTS='[^']+' && exec /etc/kafka/docker/run$`),
    );
    expect(container.env.find((e: any) => e.name === 'POD_NAME').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(container.volumeMounts.find((m: any) => m.name === 'broker-env')).toEqual({ name: 'broker-env', mountPath: BROKER_ENV_DIR, readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'broker-env', configMap: { name: BROKER_ENV_CONFIGMAP } });
    expect(Object.keys(find('ConfigMap', BROKER_ENV_CONFIGMAP).data).sort()).toEqual([
      ...Array.from({ length: brokers }, (_, i) => `kafka-${i}.env`),
      LOG4J2_FILE,
    ]);
  });

  it('gives every broker the full KRaft env: node id = ordinal, its listeners, the shared quorum', () => {
    const voters = Array.from({ length: brokers }, (_, j) => `${j}@kafka-${j}.kafka-headless.${NS}.svc.cluster.local:9093`).join(',');
    for (let i = 0; i < brokers; i++) {
      expect(brokerEnv(manifests, i)).toEqual({
        POD_NAME: `kafka-${i}`,
        CLUSTER_ID: clusterIdFor(NS),
        KAFKA_NODE_ID: String(i),
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_CONTROLLER_QUORUM_VOTERS: voters,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
        KAFKA_LISTENERS: `PLAINTEXT://:9092,CONTROLLER://:9093,LOCAL://:${29092 + i}`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://kafka-${i}.kafka-headless.${NS}.svc.cluster.local:9092,LOCAL://127.0.0.1:${29092 + i}`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,LOCAL:PLAINTEXT',
        KAFKA_LOG_DIRS: LOG_DIRS,
        KAFKA_DEFAULT_REPLICATION_FACTOR: String(rf),
        KAFKA_MIN_INSYNC_REPLICAS: String(minIsr),
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: String(rf),
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: String(rf),
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: String(minIsr),
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: String(rf),
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: String(minIsr),
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_NUM_PARTITIONS: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_MESSAGE_MAX_BYTES: '10485760',
        KAFKA_REPLICA_FETCH_MAX_BYTES: '10485760',
        KAFKA_HEAP_OPTS: '-Xms512m -Xmx512m',
        KAFKA_JVM_PERFORMANCE_OPTS: KAFKA_JVM_PERFORMANCE_OPTS,
        KAFKA_OPTS: `-Dlog4j2.configurationFile=file:${BROKER_ENV_DIR}/${LOG4J2_FILE}`,
        EXTRA_ARGS: '-name kafkaServer',
      });
    }
  });

  it('keeps the listener settings consistent: every listener bound, mapped, and the controller never advertised', () => {
    for (let i = 0; i < brokers; i++) {
      const env = brokerEnv(manifests, i);
      const names = (v: string) => v.split(',').map((l) => l.split('://')[0]);
      const protocols = Object.fromEntries(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP!.split(',').map((p) => p.split(':')));
      for (const n of names(env.KAFKA_LISTENERS!)) expect(protocols).toHaveProperty(n!);
      expect(names(env.KAFKA_ADVERTISED_LISTENERS!)).toEqual(['PLAINTEXT', 'LOCAL']);
      expect(names(env.KAFKA_LISTENERS!)).toContain(env.KAFKA_CONTROLLER_LISTENER_NAMES);
      // The LOCAL port the broker binds is the port it advertises (and the port-forward maps 1:1).
      const bound = /LOCAL:\/\/:(\d+)/.exec(env.KAFKA_LISTENERS!)![1];
      const advertised = /LOCAL:\/\/127\.0\.0\.1:(\d+)/.exec(env.KAFKA_ADVERTISED_LISTENERS!)![1];
      expect(bound).toBe(advertised);
      // Its own voter entry points at its own controller listener.
      expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS!.split(',')[i]).toBe(`${env.KAFKA_NODE_ID}@kafka-${i}.kafka-headless.${NS}.svc.cluster.local:9093`);
    }
  });

  it('replication factors and min ISR follow the broker count and never exceed it', () => {
    for (let i = 0; i < brokers; i++) {
      const env = brokerEnv(manifests, i);
      const factors = Object.entries(env)
        .filter(([k]) => k.endsWith('REPLICATION_FACTOR'))
        .map(([, v]) => Number(v));
      const isrs = Object.entries(env)
        .filter(([k]) => /MIN_ISR$|MIN_INSYNC_REPLICAS$/.test(k))
        .map(([, v]) => Number(v));
      expect(factors).toHaveLength(4);
      expect(isrs).toHaveLength(3);
      expect(new Set(factors)).toEqual(new Set([rf]));
      expect(new Set(isrs)).toEqual(new Set([minIsr]));
      expect(rf).toBeLessThanOrEqual(brokers);
      expect(minIsr).toBeLessThanOrEqual(rf);
    }
  });

  it('has no value the image would drop: its env-to-properties tool skips values containing "="', () => {
    for (let i = 0; i < brokers; i++) {
      // The JVM option variables are not properties: the image's tool leaves them out (kafka-propertiesSpec.json).
      for (const [k, v] of Object.entries(brokerEnv(manifests, i)))
        if ((k.startsWith('KAFKA_') && !JVM_OPTION_VARS.has(k)) || k === 'CLUSTER_ID') expect(v, k).not.toContain('=');
    }
  });

  it('Services: kafka:9092 for bootstrap, headless kafka-headless publishing not-ready pods for the quorum', () => {
    const svc = find('Service', 'kafka');
    expect(svc.spec.ports).toEqual([{ name: 'client', port: 9092, targetPort: 'client' }]);
    expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels);
    const hl = find('Service', 'kafka-headless');
    expect(hl.spec.clusterIP).toBe('None');
    expect(hl.spec.publishNotReadyAddresses).toBe(true);
    expect(hl.spec.ports.map((p: any) => p.port)).toEqual([9092, 9093]);
    expect(sts.spec.template.metadata.labels).toMatchObject(sts.spec.selector.matchLabels);
  });
});

describe('Kafka manifests: identity', () => {
  it('derives a stable cluster id per namespace: 22 base64url characters, not starting with - or _', () => {
    expect(clusterIdFor('learnflow')).toBe(clusterIdFor('learnflow'));
    expect(clusterIdFor('learnflow')).not.toBe(clusterIdFor('learnflow-dev'));
    for (const ns of ['learnflow', 'a', 'learnflow-dev', 'x'.repeat(63)]) {
      const id = clusterIdFor(ns);
      expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });

  it('renders the namespace into every DNS name and the cluster id', () => {
    const { manifests } = rendered(3, 'team-a');
    const env = brokerEnv(manifests, 2);
    expect(env.KAFKA_ADVERTISED_LISTENERS).toContain('kafka-2.kafka-headless.team-a.svc.cluster.local:9092');
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).not.toContain('.learnflow.');
    expect(env.CLUSTER_ID).toBe(clusterIdFor('team-a'));
  });

  it('rolls the pods when a broker env file changes (checksum annotation)', () => {
    const sum = (n: number, ns = NS) => rendered(n, ns).sts.spec.template.metadata.annotations['learnflow.dev/broker-env-checksum'];
    expect(sum(1)).toMatch(/^[0-9a-f]{16}$/);
    expect(sum(1)).toBe(sum(1));
    expect(sum(1)).not.toBe(sum(3));
    expect(sum(1)).not.toBe(sum(1, 'other'));
  });

  it('env files round-trip and refuse values the shell would misread', () => {
    const vars = { KAFKA_NODE_ID: '0', KAFKA_LISTENERS: 'PLAINTEXT://:9092' };
    expect(parseEnvFile(formatEnvFile(vars))).toEqual(vars);
    expect(() => formatEnvFile({ KAFKA_X: "it's" })).toThrow(/cannot write/);
    expect(() => formatEnvFile({ 'bad-key': 'v' })).toThrow(/cannot write/);
  });
});

describe('Kafka NetworkPolicy', () => {
  it('admits only pods of the namespace to the brokers, and can be turned off', () => {
    const all = renderKafka('learnflow', 1);
    const sts = all.find((m) => m.kind === 'StatefulSet') as Record<string, any>;
    const np = all.find((m) => m.kind === 'NetworkPolicy') as Record<string, any>;
    expect(np.spec.podSelector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(np.spec.ingress).toEqual([{ from: [{ podSelector: {} }] }]);
    expect(renderKafka('learnflow', 1, { networkPolicies: false }).some((m) => m.kind === 'NetworkPolicy')).toBe(false);
  });
});

describe('Kafka container start', () => {
  const sts = renderKafka(NS, 1).find((m) => m.kind === 'StatefulSet') as any;
  const c = sts.spec.template.spec.containers[0];
  const env = new Map<string, string>(c.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
  const cm = renderKafka(NS, 1).find((m) => m.kind === 'ConfigMap') as any;

  it('stops with a clear message when /opt/kafka/config is not writable (not the image user), before the entrypoint', () => {
    // Run the real start command under sh here, where /opt/kafka/config does not exist: the same "not writable".
    const r = spawnSync('/bin/sh', ['-c', c.args[0]], { env: { PATH: process.env.PATH, POD_NAME: 'kafka-0' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/opt/kafka/config is not writable by uid');
    expect(r.stderr).toContain('runAsUser: 1000');
  });

  it('logs to the console only: a console-only log4j2 config from the ConfigMap, no GC log files', () => {
    expect(brokerEnv(renderKafka(NS, 1), 0).KAFKA_OPTS).toBe(`-Dlog4j2.configurationFile=file:${BROKER_ENV_DIR}/${LOG4J2_FILE}`);
    expect(env.get('EXTRA_ARGS')).toBe('-name kafkaServer');
    const config = parse(cm.data[LOG4J2_FILE]);
    expect(Object.keys(config.Configuration.Appenders)).toEqual(['Console']);
    expect(JSON.stringify(config)).not.toMatch(/File|fileName/);
  });
});

describe('what a kubectl exec into the broker starts with', () => {
  const manifests = renderKafka(NS, 3);
  const c = (manifests.find((m) => m.kind === 'StatefulSet') as any).spec.template.spec.containers[0];

  it("gives the tools no logging option: the broker's console config is exported by the start command, for the server alone", () => {
    // kafka-run-class.sh puts KAFKA_OPTS after the tools' own config/tools-log4j2.yaml: in the pod's env it would
    // print the broker's INFO lines on the stdout of every `kubectl exec ... kafka-*.sh`.
    for (let i = 0; i < 3; i++) {
      const env = execEnv(manifests, i);
      for (const k of ['KAFKA_OPTS', 'KAFKA_LOG4J_OPTS', 'KAFKA_LOG4J_ROOT_LOGLEVEL', 'KAFKA_TOOLS_LOG4J_LOGLEVEL']) expect(env, k).not.toHaveProperty(k);
      expect(brokerEnv(manifests, i).KAFKA_OPTS).toMatch(/^-Dlog4j2\.configurationFile=file:\S+$/);
    }
    expect(c.args[0]).toMatch(/export KAFKA_OPTS='[^']+' && exec \/etc\/kafka\/docker\/run$/);
  });

  it("chooses the garbage collector: G1 with Kafka's own settings, not what the JVM would pick under the 1-CPU limit", () => {
    // The image's launch always sets KAFKA_JVM_PERFORMANCE_OPTS, so kafka-run-class.sh's G1 defaults never apply.
    const opts = execEnv(manifests, 0).KAFKA_JVM_PERFORMANCE_OPTS!;
    expect(opts.split(' ').filter((o) => /^-XX:\+Use\w+GC$/.test(o))).toEqual(['-XX:+UseG1GC']);
    expect(opts).toContain('-XX:MaxGCPauseMillis=20');
    expect(KAFKA_RESOURCES.cpuLimit).toBe('1');
  });
});

describe('the largest message', () => {
  it("the broker accepts what the Dapr component lets apps publish (one value, not Kafka's 1 MiB default)", async () => {
    const { renderComponents } = await import('../../scripts/lib/components/dapr/manifests.js');
    const pubsub = renderComponents({ namespace: NS, consumerGroup: 'g' }, 'host=x password=abc').find((m) => m.metadata.name === 'kafka-pubsub') as Any;
    const daprMax = Number(pubsub.spec.metadata.find((m: any) => m.name === 'maxMessageBytes').value);
    const env = brokerEnv(renderKafka(NS, 1), 0);
    expect(Number(env.KAFKA_MESSAGE_MAX_BYTES)).toBe(daprMax);
    expect(Number(env.KAFKA_REPLICA_FETCH_MAX_BYTES)).toBeGreaterThanOrEqual(daprMax);
    expect(daprMax).toBe(10_485_760);
  });
});
