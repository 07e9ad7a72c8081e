#!/usr/bin/env -S node --import tsx
// Deploys Kafka (KRaft, apache/kafka image, Services kafka:9092 + kafka-headless) and reconciles k8s/kafka/topics.yaml.
import { deployScript } from './lib/component-scripts.js';
import { kafka } from './lib/components/kafka/index.js';
import { runScript } from './lib/run.js';

runScript(
  deployScript(
    kafka,
    'deploy-kafka',
    'Deploys Apache Kafka into the namespace (official apache/kafka image, KRaft: each broker is also a controller, no ZooKeeper;\n5Gi volume per broker) and reconciles the topic catalogue k8s/kafka/topics.yaml: creates missing topics, raises partition\ncounts, updates settings; never deletes or shrinks a topic. Safe to re-run.\nWith --no-cluster --kafka-brokers HOST:PORT it only reconciles the topics on that broker.',
  ),
);
