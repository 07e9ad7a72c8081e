#!/usr/bin/env -S node --import tsx
// Background port-forwards to PostgreSQL and Kafka on fixed local ports, re-opened when they drop: start | status | stop.
import { portForwardScript, splitCommand } from './lib/day2/port-forward.js';
import { runScript } from './lib/run.js';

const { command, rest } = splitCommand(process.argv.slice(2));
runScript(portForwardScript(command), rest);
