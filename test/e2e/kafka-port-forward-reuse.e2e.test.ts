// deploy-kafka without --kafka-brokers while scripts/port-forward.mts (here: a real broker standing on the
// fixed local port 29092) already holds the port: the kit reuses it when the broker's cluster id proves it is
// this namespace's Kafka, and refuses with a clear message when it is another one.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterIdFor } from '../../scripts/lib/components/kafka/manifests.js';
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

describe('a port-forward already on 127.0.0.1:29092', () => {
  it('is reused when the broker behind it is this namespace\'s Kafka', { timeout: 180_000 }, async () => {
    broker = await startKafka({ port: LOCAL_PORT, clusterId: clusterIdFor('reuse') });
    const r = await deploy('reuse');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toContain('reusing the port-forward(s) already open on 127.0.0.1:29092');
    expect(r.stderr).toMatch(/10 topics: 10 created/);
  });

  it('is refused, naming both cluster ids, when it leads to another Kafka', { timeout: 120_000 }, async () => {
    const r = await deploy('other');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`is not the one in namespace other (cluster id ${clusterIdFor('reuse')}, expected ${clusterIdFor('other')})`);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });
});
