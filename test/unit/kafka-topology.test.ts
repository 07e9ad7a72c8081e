// How the kit (and scripts/port-forward.mts) reaches each broker from the laptop, and what follows from the
// broker count. No test here runs a real port-forward, so the mapping is pinned down as data.

import { describe, expect, it } from 'vitest';
import {
  brokerHost,
  brokerListeners,
  inClusterBootstrap,
  localBootstrap,
  minIsrFor,
  portForwardTargets,
  quorumVoters,
  replicationFor,
} from '../../scripts/lib/components/shared/kafka-topology.js';

describe('laptop access through port-forwards', () => {
  it("maps local base+i to pod/kafka-i:base+i, one forward per broker, on the stack's ports", () => {
    expect(portForwardTargets(1, 29092)).toEqual([{ resource: 'pod/kafka-0', remotePort: 29092, localPort: 29092 }]);
    expect(portForwardTargets(2, 29102)).toEqual([
      { resource: 'pod/kafka-0', remotePort: 29102, localPort: 29102 },
      { resource: 'pod/kafka-1', remotePort: 29103, localPort: 29103 },
    ]);
    expect(portForwardTargets(3, 29092)).toEqual([
      { resource: 'pod/kafka-0', remotePort: 29092, localPort: 29092 },
      { resource: 'pod/kafka-1', remotePort: 29093, localPort: 29093 },
      { resource: 'pod/kafka-2', remotePort: 29094, localPort: 29094 },
    ]);
  });

  it('forwards exactly the addresses the brokers advertise on LOCAL, so clients never see an unreachable name', () => {
    for (const base of [29092, 29112])
      for (const n of [1, 3, 9]) {
        const advertisedLocal = Array.from({ length: n }, (_, i) => /LOCAL:\/\/([^,]+)/.exec(brokerListeners('learnflow', i, base).advertisedListeners)![1]);
        expect(localBootstrap(n, base)).toEqual(advertisedLocal);
        // and each forward targets the pod whose LOCAL listener binds that port
        portForwardTargets(n, base).forEach((t, i) => {
          expect(brokerListeners('learnflow', i, base).listeners).toContain(`LOCAL://:${t.remotePort}`);
          expect(t.resource).toBe(`pod/kafka-${i}`);
        });
      }
  });

  it('gives in-cluster clients the Service and the brokers their headless names', () => {
    expect(inClusterBootstrap('learnflow')).toBe('kafka.learnflow.svc.cluster.local:9092');
    expect(brokerHost('learnflow', 1)).toBe('kafka-1.kafka-headless.learnflow.svc.cluster.local');
    expect(brokerListeners('learnflow', 1, 29092).advertisedListeners).toBe(
      'PLAINTEXT://kafka-1.kafka-headless.learnflow.svc.cluster.local:9092,LOCAL://127.0.0.1:29093',
    );
  });
});

describe('what follows from the broker count', () => {
  it('replication factor and min ISR: 1 -> 1/1, 2 -> 2/1, 3 -> 3/2, more -> 3/2', () => {
    expect(replicationFor(1)).toEqual({ replicationFactor: 1, minIsr: 1 });
    expect(replicationFor(2)).toEqual({ replicationFactor: 2, minIsr: 1 });
    expect(replicationFor(3)).toEqual({ replicationFactor: 3, minIsr: 2 });
    expect(replicationFor(5)).toEqual({ replicationFactor: 3, minIsr: 2 });
    expect(minIsrFor(1)).toBe(1);
  });

  it('lists every broker as a KRaft voter on its controller port', () => {
    expect(quorumVoters('learnflow', 1)).toBe('0@kafka-0.kafka-headless.learnflow.svc.cluster.local:9093');
    expect(quorumVoters('ns', 3).split(',')).toEqual([
      '0@kafka-0.kafka-headless.ns.svc.cluster.local:9093',
      '1@kafka-1.kafka-headless.ns.svc.cluster.local:9093',
      '2@kafka-2.kafka-headless.ns.svc.cluster.local:9093',
    ]);
  });
});
