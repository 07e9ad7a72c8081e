// Renders k8s/kafka/*.yaml for a broker count: the shared KAFKA_* env in the StatefulSet, and each broker's own
// part (node id, listeners, advertised listeners) as one env file per broker in the ConfigMap kafka-broker-env.

import { createHash } from 'node:crypto';
import { loadManifests, readVersions, type Manifest } from '../../kube/manifests.js';
import {
  brokerListeners,
  CLIENT_PORT,
  clusterIdFor,
  CONTROLLER_PORT,
  LOCAL_PORT_BASE,
  MAX_MESSAGE_BYTES,
  podName,
  quorumVoters,
  replicationFor,
} from '../shared/kafka-topology.js';

export { clusterIdFor, MAX_MESSAGE_BYTES };

/** LearnFlow's sizing, per broker: requests 500m/1Gi, limits 1 CPU/2Gi. The volume size is the kit's choice for laptops. */
export const KAFKA_RESOURCES = { cpuRequest: '500m', memoryRequest: '1Gi', cpuLimit: '1', memoryLimit: '2Gi', storage: '5Gi' } as const;
/** Half the memory request: the rest is for the page cache and the JVM's off-heap use. */
export const KAFKA_HEAP_OPTS = '-Xms512m -Xmx512m';
export const DATA_MOUNT = '/var/lib/kafka/data';
/** A subdirectory of the volume: a fresh volume's root may hold lost+found. */
export const LOG_DIRS = `${DATA_MOUNT}/kraft-logs`;
export const BROKER_ENV_CONFIGMAP = 'kafka-broker-env';
export const BROKER_ENV_DIR = '/etc/learnflow-kafka';

/**
 * The broker logs to the console only: the distribution's log4j2.yaml, which the image uses, also writes
 * server.log, controller.log, state-change.log ... under /opt/kafka/logs inside the container, where nothing
 * rotates them away. Shipped in the ConfigMap next to the env files; KAFKA_OPTS in the StatefulSet points at it.
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

/** `localPortBase`: the stack's laptop port for broker 0 (its record); the first stack's by default. */
export function renderKafka(
  namespace: string,
  brokers: number,
  opts: { networkPolicies?: boolean; clusterId?: string; localPortBase?: number } = {},
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
    clusterId: opts.clusterId ?? CLUSTER_ID_PLACEHOLDER,
    quorumVoters: quorumVoters(namespace, brokers),
    replicationFactor,
    minIsr,
    heapOpts: KAFKA_HEAP_OPTS,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    log4jConfig: `${BROKER_ENV_DIR}/${LOG4J2_FILE}`,
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

/**
 * The environment broker i starts with, as the container builds it: the StatefulSet's env (POD_NAME resolved)
 * plus its file from the ConfigMap. What the image's entrypoint turns into server.properties.
 */
export function brokerEnv(manifests: readonly Manifest[], i: number): Record<string, string> {
  const sts = manifests.find((m) => m.kind === 'StatefulSet') as
    (Manifest & { spec: { template: { spec: { containers: { env?: EnvVar[] }[] } } } }) | undefined;
  const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === BROKER_ENV_CONFIGMAP) as
    (Manifest & { data?: Record<string, string> }) | undefined;
  if (!sts || !cm) throw new Error('brokerEnv: the manifests hold no Kafka StatefulSet and ConfigMap');
  const env: Record<string, string> = {};
  for (const e of sts.spec.template.spec.containers[0]?.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName(i);
  }
  const file = cm.data?.[brokerEnvFileName(i)];
  if (file === undefined) throw new Error(`brokerEnv: no ${brokerEnvFileName(i)} in ConfigMap ${BROKER_ENV_CONFIGMAP}`);
  for (const [k, v] of Object.entries(parseEnvFile(file))) {
    if (k in env) throw new Error(`brokerEnv: ${k} is set both in the StatefulSet and in ${brokerEnvFileName(i)}`);
    env[k] = v;
  }
  return env;
}
