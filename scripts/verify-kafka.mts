#!/usr/bin/env -S node --import tsx
// Checks the deployed Kafka: pods, broker metadata, every catalogue topic, a round trip on every topic.
import { verifyScript } from './lib/component-scripts.js';
import { kafka } from './lib/components/kafka/index.js';
import { runScript } from './lib/run.js';

runScript(verifyScript(kafka, 'verify-kafka'));
