// deploy-kafka without --kafka-brokers while scripts/port-forward.mts (here: a real broker standing on the
// fixed local port 29092) already holds the port: the kit reuses it when the broker's cluster id proves it is
// this stack's Kafka, and refuses with a clear message when it is another one, even one in a namespace of the
// same name (the id is random per stack, not derived from the namespace).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterIdFor } from '../../scripts/lib/components/shared/kafka-topology.js';
import { CLUSTER_ID_ANNOTATION } from '../../scripts/lib/components/shared/kafka-topology.js';
import { portsOfSlot, renderStackRecord } from '../../scripts/lib/components/shared/stack-record.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { startKafka, type KafkaInstance } from '../support/kafka.js';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { holdLock, KAFKA_LOCAL_PORT_LOCK } from '../support/locks.js';

const LOCAL_PORT = 29092;
let cluster: KubeCluster;
let broker: KafkaInstance | undefined;

let release: (() => void) | undefined;

beforeAll(async () => {
  // The port is the kit's fixed one: another file's port-forward may hold it; wait for it.
  release = await holdLock(KAFKA_LOCAL_PORT_LOCK);
  cluster = await startKubeCluster({ name: 'e2e-pf-reuse' });
}, 660_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), broker?.stop()]);
  release?.();
});

const deploy = (ns: string) => runKit('scripts/deploy-kafka.mts', ['--context', cluster.context, '--namespace', ns], { env: cluster.env, timeoutMs: 120_000 });

// The broker on 29092 stands for another cluster's Kafka, deployed by an earlier kit version in a namespace
// "twin": its cluster id is the one those versions derived from the namespace name alone.
const TWIN_ID = clusterIdFor('twin');
const stsClusterId = async (ns: string) =>
  cluster.kubectl([
    'get',
    'statefulset',
    'kafka',
    '-n',
    ns,
    '-o',
    'jsonpath={.spec.template.spec.containers[?(@.name=="kafka")].env[?(@.name=="CLUSTER_ID")].value}',
  ]);

describe('a port-forward already on 127.0.0.1:29092', () => {
  it(
    "is reused when the broker behind it has the cluster id this stack's volumes were formatted with (recorded on the claim)",
    { timeout: 180_000 },
    async () => {
      broker = await startKafka({ port: LOCAL_PORT, clusterId: TWIN_ID });
      // A stack whose StatefulSet was deleted with its volumes kept: the claim records the id its volume holds.
      await cluster.apply(
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'reuse' } },
            {
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              metadata: {
                name: 'data-kafka-0',
                namespace: 'reuse',
                labels: { 'app.kubernetes.io/name': 'kafka' },
                annotations: { [CLUSTER_ID_ANNOTATION]: TWIN_ID },
              },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
            },
          ],
        }),
      );
      const r = await deploy('reuse');
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stderr).toContain(`KRaft cluster id ${TWIN_ID}, as recorded on pvc/data-kafka-0`);
      expect(await stsClusterId('reuse')).toBe(TWIN_ID);
      expect(r.stderr).toContain('reusing the port-forward(s) already open on 127.0.0.1:29092');
      expect(r.stderr).toMatch(/10 topics: 10 created/);
    },
  );

  it(
    "is refused, naming both cluster ids, when it leads to another cluster's Kafka in a namespace of the same name: a new stack's id is random, and recorded on its claim",
    { timeout: 120_000 },
    async () => {
      // Two stacks of one cluster never share laptop ports (each has its own record); the stacks of two clusters
      // can, both first on their cluster. Here twin's record says so (the first stack's ports), as another
      // cluster's first stack would have them: the broker behind 29092 must prove which Kafka it is.
      await cluster.apply(
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'twin' } }, renderStackRecord('twin', portsOfSlot(0))],
        }),
      );
      const r = await deploy('twin');
      expect(r.code, r.stderr.slice(-2000)).toBe(1);
      const own = await stsClusterId('twin');
      expect(own).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
      expect(own).not.toBe(TWIN_ID);
      expect(r.stderr).toContain(`KRaft cluster id ${own} (new, random)`);
      expect(r.stderr).toContain(`is not the one in namespace twin (cluster id ${TWIN_ID}, expected ${own})`);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      // The claim records it (the StatefulSet made it, the kit annotated it after the rollout).
      const annotation = await cluster.kubectl([
        'get',
        'pvc',
        'data-kafka-0',
        '-n',
        'twin',
        '-o',
        `jsonpath={.metadata.annotations.${CLUSTER_ID_ANNOTATION.replace(/\./g, '\\.')}}`,
      ]);
      expect(annotation).toBe(own);
    },
  );
});
