#!/usr/bin/env -S node --import tsx
// Deploys Kafka (KRaft, apache/kafka image, Services kafka:9092 + kafka-headless) and reconciles k8s/kafka/topics.yaml.
import { deployScript } from './lib/component-scripts.js';
import { kafka } from './lib/components/kafka/index.js';
import { runScript } from './lib/run.js';

runScript(deployScript(kafka, 'deploy-kafka'));
