// Renders k8s/kafka/*.yaml for a broker count: the shared KAFKA_* env in the StatefulSet, and each broker's own
// part (node id, listeners, advertised listeners) as one env file per broker in the ConfigMap kafka-broker-env.

import { createHash } from 'node:crypto';
import { loadManifests, type Manifest } from '../../kube/manifests.js';
import { readVersions } from '../../core/repo.js';
import {
  brokerListeners,
  CLIENT_PORT,
  CONTROLLER_PORT,
  LOCAL_PORT_BASE,
  MAX_MESSAGE_BYTES,
  podName,
  quorumVoters,
  replicationFor,
} from '../shared/kafka-topology.js';

/** Per broker: LearnFlow's sizing; the volume size is the kit's choice for laptops. */
export const KAFKA_RESOURCES = { cpuRequest: '500m', memoryRequest: '1Gi', cpuLimit: '1', memoryLimit: '2Gi', storage: '5Gi' } as const;
/** Half the memory request: the rest is for the page cache and the JVM's off-heap use. */
export const KAFKA_HEAP_OPTS = '-Xms512m -Xmx512m';
export const DATA_MOUNT = '/var/lib/kafka/data';
/** A subdirectory of the volume: a fresh volume's root may hold lost+found. */
export const LOG_DIRS = `${DATA_MOUNT}/kraft-logs`;
export const BROKER_ENV_CONFIGMAP = 'kafka-broker-env';
export const BROKER_ENV_DIR = '/etc/learnflow-kafka';

/**
 * The broker logs to the console only: the image's log4j2.yaml also writes server.log, controller.log ... under
 * /opt/kafka/logs in the container, where nothing rotates them. Shipped in the ConfigMap; SERVER_ONLY_ENV points at it.
 */
export const LOG4J2_FILE = 'log4j2.yaml';
export const LOG4J2_CONSOLE = `Configuration:
  name: learnflow-kafka-console
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
`;

/**
 * For the broker process alone: the start command exports them (k8s/kafka/statefulset.yaml), never the pod's env.
 * A `kubectl exec` tool starts with the pod's env, and kafka-run-class.sh puts KAFKA_OPTS after the tools' logging
 * config (config/tools-log4j2.yaml, WARN to stderr): the broker's console config would print INFO lines on stdout.
 */
export const SERVER_ONLY_ENV: Readonly<Record<string, string>> = {
  KAFKA_OPTS: `-Dlog4j2.configurationFile=file:${BROKER_ENV_DIR}/${LOG4J2_FILE}`,
};

/**
 * Kafka's own GC defaults (bin/kafka-run-class.sh: G1, 20 ms pause target), set here because the image's launch script
 * always exports KAFKA_JVM_PERFORMANCE_OPTS (appending -XX:SharedArchiveFile; apache/kafka docker/jvm/launch), which
 * turns those defaults off; under the 1-CPU limit the JVM then picks SerialGC, whose whole-heap pauses stall every
 * request, KRaft heartbeats included. `kubectl exec` tools get the same, their default anyway.
 */
export const KAFKA_JVM_PERFORMANCE_OPTS =
  '-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true';

export function brokerEnvFileName(i: number): string {
  return `${podName(i)}.env`;
}

/** What differs per broker, as the env file the container sources (`set -a; . file`). */
export function brokerEnvVars(namespace: string, i: number, localPortBase: number = LOCAL_PORT_BASE): Record<string, string> {
  const l = brokerListeners(namespace, i, localPortBase);
  return { KAFKA_NODE_ID: String(l.nodeId), KAFKA_LISTENERS: l.listeners, KAFKA_ADVERTISED_LISTENERS: l.advertisedListeners };
}

export function formatEnvFile(vars: Record<string, string>): string {
  return (
    Object.entries(vars)
      .map(([k, v]) => {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || /['\n]/.test(v)) throw new Error(`cannot write ${k}=${v} to a broker env file`);
        return `${k}='${v}'`;
      })
      .join('\n') + '\n'
  );
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(line);
    if (!m) throw new Error(`not a KEY='value' line: ${line}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * What a plan renders for CLUSTER_ID: the id is chosen at deploy from the running StatefulSet or its claims (or made
 * new), which a dry-run does not read. Kafka does not check it (kafka-storage.sh format writes any text as
 * cluster.id, tried with 4.3.1): a dry-run file applied by hand gets a broker with this text as its id, which the
 * kit's next deploy keeps. The rendered files' header says to deploy with the scripts instead.
 */
export const CLUSTER_ID_PLACEHOLDER = '<kraft-cluster-id-chosen-at-deploy>';

/**
 * `localPortBase`: the stack's laptop port for broker 0 (its record); the first stack's by default. `partition`:
 * `brokers` for a version upgrade, so the apply replaces no pod and upgrade.ts rolls them one at a time.
 */
export function renderKafka(
  namespace: string,
  brokers: number,
  opts: { networkPolicies?: boolean; clusterId?: string; localPortBase?: number; partition?: number } = {},
): Manifest[] {
  const v = readVersions().kafka;
  const files: Record<string, string> = {};
  for (let i = 0; i < brokers; i++) files[brokerEnvFileName(i)] = formatEnvFile(brokerEnvVars(namespace, i, opts.localPortBase));
  files[LOG4J2_FILE] = LOG4J2_CONSOLE;
  const { replicationFactor, minIsr } = replicationFor(brokers);
  const values = {
    namespace,
    image: `${v.image}:${v.version}`,
    version: v.version,
    replicas: brokers,
    // The StatefulSet controller replaces only the pods at or above it.
    partition: opts.partition ?? 0,
    clusterId: opts.clusterId ?? CLUSTER_ID_PLACEHOLDER,
    quorumVoters: quorumVoters(namespace, brokers),
    replicationFactor,
    minIsr,
    heapOpts: KAFKA_HEAP_OPTS,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    serverKafkaOpts: SERVER_ONLY_ENV.KAFKA_OPTS!,
    jvmPerformanceOpts: KAFKA_JVM_PERFORMANCE_OPTS,
    logDirs: LOG_DIRS,
    dataMount: DATA_MOUNT,
    brokerEnvDir: BROKER_ENV_DIR,
    brokerEnvChecksum: createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16),
    clientPort: CLIENT_PORT,
    controllerPort: CONTROLLER_PORT,
    ...KAFKA_RESOURCES,
  };
  const manifests = [
    ...loadManifests('kafka/service.yaml', values),
    ...loadManifests('kafka/statefulset.yaml', values),
    ...loadManifests('kafka/pdb.yaml', values),
  ];
  const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === BROKER_ENV_CONFIGMAP);
  if (!cm) throw new Error(`k8s/kafka/statefulset.yaml: no ConfigMap ${BROKER_ENV_CONFIGMAP}`);
  cm.data = files;
  if (opts.networkPolicies !== false) manifests.push(...loadManifests('kafka/networkpolicy.yaml', values));
  return manifests;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath?: string } };
}

type KafkaContainer = { env?: EnvVar[]; args?: string[] };

/** The pod's env of broker i (POD_NAME resolved): what a `kubectl exec` into it starts with. */
export function execEnv(manifests: readonly Manifest[], i: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of kafkaContainer(manifests).env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName(i);
  }
  return env;
}

function kafkaContainer(manifests: readonly Manifest[]): KafkaContainer {
  const sts = manifests.find((m) => m.kind === 'StatefulSet') as (Manifest & { spec: { template: { spec: { containers: KafkaContainer[] } } } }) | undefined;
  const c = sts?.spec.template.spec.containers[0];
  if (!c) throw new Error('the manifests hold no Kafka StatefulSet');
  return c;
}

/**
 * The environment broker i starts with, as the container builds it: the StatefulSet's env (POD_NAME resolved), its
 * file from the ConfigMap and what the start command exports for the server alone (read from the command, so a
 * template that drops it fails here). What the image's entrypoint turns into server.properties and JVM options.
 */
export function brokerEnv(manifests: readonly Manifest[], i: number): Record<string, string> {
  const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === BROKER_ENV_CONFIGMAP) as
    (Manifest & { data?: Record<string, string> }) | undefined;
  if (!cm) throw new Error(`brokerEnv: the manifests hold no ConfigMap ${BROKER_ENV_CONFIGMAP}`);
  const env = execEnv(manifests, i);
  const command = (kafkaContainer(manifests).args ?? []).join(' ');
  for (const m of command.matchAll(/\bexport ([A-Z_][A-Z0-9_]*)='([^']*)'/g)) {
    if (m[1]! in env) throw new Error(`brokerEnv: ${m[1]} is set both in the StatefulSet's env and in its start command`);
    env[m[1]!] = m[2]!;
  }
  const file = cm.data?.[brokerEnvFileName(i)];
  if (file === undefined) throw new Error(`brokerEnv: no ${brokerEnvFileName(i)} in ConfigMap ${BROKER_ENV_CONFIGMAP}`);
  for (const [k, v] of Object.entries(parseEnvFile(file))) {
    if (k in env) throw new Error(`brokerEnv: ${k} is set both in the StatefulSet and in ${brokerEnvFileName(i)}`);
    env[k] = v;
  }
  return env;
}
