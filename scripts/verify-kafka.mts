#!/usr/bin/env -S node --import tsx
// Checks the deployed Kafka: pods, broker metadata, every catalogue topic, a round trip on every topic.
import { verifyScript } from './lib/component-scripts.js';
import { kafka } from './lib/components/kafka/index.js';
import { runScript } from './lib/run.js';

runScript(
  verifyScript(
    kafka,
    'verify-kafka',
    'Checks Kafka: pods ready, broker metadata reachable, every topic of the catalogue present with its partitions, replication\nand settings, and a produce+consume round trip on every topic (probe messages carry the header learnflow-kit-probe: true).\nRuns every check; exit 1 if any failed. With --no-cluster --kafka-brokers HOST:PORT only the broker checks run.',
  ),
);
