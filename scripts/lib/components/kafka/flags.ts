// deploy-kafka's and verify-kafka's own flags (the common and data-plane ones are core/config.ts', --topics is the
// catalogue's).

import { booleanFlag, flag } from '../../core/flags.js';
import { MAX_BROKERS, VERIFY_TOPIC } from '../shared/kafka-topology.js';

export const REPLICAS_FLAG = flag({
  name: 'replicas',
  kind: 'int',
  clusterOnly: true,
  valueName: 'N',
  default: 1,
  description: 'Kafka brokers, each also a KRaft voter: 1 on a laptop; 3 gives replication factor 3, min ISR 2',
  validate: (v) =>
    Number(v) === 2
      ? 'a quorum of 2 voters needs both up: it survives no failure, like 1, at twice the cost; give 1 (a laptop) or 3'
      : Number(v) >= 1 && Number(v) <= MAX_BROKERS
        ? undefined
        : `give 1 to ${MAX_BROKERS} brokers`,
});

export const ROUND_TRIP_APP_TOPICS_FLAG = booleanFlag(
  'round-trip-app-topics',
  `also write a probe message into every application topic and read it back (running services receive it!); by default only ${VERIFY_TOPIC} is written`,
);
