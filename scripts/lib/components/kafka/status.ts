// Kafka's section of status.mts: the StatefulSet, its pods and claims, the topics (unless --no-data), how to reach
// the brokers. Read only.

import type { Ctx, StepCtx } from '../../run/context.js';
import { errorMessage } from '../../core/errors.js';
import { withTimeout } from '../../core/wait.js';
import { connectKafka, openEndpoint } from '../shared/kafka-client.js';
import { inClusterBootstrap, localBootstrap, STATEFULSET } from '../shared/kafka-topology.js';
import type { LaptopPorts } from '../shared/stack-record.js';
import type { StatusSection, StatusView } from '../shared/status.js';

export async function kafkaStatus(step: StepCtx, view: StatusView, o: { data: boolean }): Promise<StatusSection> {
  const ns = view.namespace;
  const { sts, facts, ...part } = view.statefulSet(STATEFULSET, 'kafka', {
    head: (s) =>
      `apache/kafka ${s.metadata.labels?.['app.kubernetes.io/version'] ?? '?'}, ${s.spec?.replicas ?? 0} broker(s), ${s.status?.readyReplicas ?? 0} ready`,
    verify: './scripts/verify-kafka.mts',
    deploy: './scripts/deploy-kafka.mts',
  });
  const brokers = sts?.spec?.replicas ?? 0;
  let ok = part.ok;
  if (sts && o.data) {
    try {
      const session = await connectKafka(step, await openEndpoint(step, Math.max(1, brokers)));
      try {
        const meta = await withTimeout(
          session.admin.fetchTopicMetadata({ topics: (await session.admin.listTopics()).filter((t) => !t.startsWith('__')) }),
          10_000,
          'reading the topics',
        );
        facts.push(
          `${meta.topics.length} topic(s): ${meta.topics
            .map((t) => `${t.name} (${t.partitions.length})`)
            .sort()
            .join(', ')}`,
        );
      } finally {
        await session.close();
      }
    } catch (err) {
      ok = false;
      facts.push(`topics not read: ${errorMessage(err).split('\n')[0]}`);
    }
  }
  return {
    component: 'Kafka',
    ok,
    facts,
    endpoints: [
      `in the cluster: ${inClusterBootstrap(ns)}`,
      `from the laptop: ${localBootstrap(Math.max(1, brokers), view.ports.kafka).join(',')} while ./scripts/port-forward.mts start runs`,
    ],
    credentials: ['none: plaintext inside the cluster, limited to pods of the namespace by a NetworkPolicy'],
    next: part.next(ok),
  };
}

/** The end of deploy-all: how to reach the brokers. */
export function kafkaConnect(namespace: string, _ctx: Pick<Ctx, 'root'>, ports: LaptopPorts): string[] {
  return [`Kafka       ${inClusterBootstrap(namespace)}   laptop: ${localBootstrap(1, ports.kafka).join(',')}`];
}
