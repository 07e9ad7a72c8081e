#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Benchmark (not a test): on fresh simulated clusters (real API server, KWOK nodes) with a real
// PostgreSQL and Kafka, measures in one run
//   - deploy-all wall time against a FLOOR: the bare commands for the same objects (kubectl apply
//     --server-side of the rendered manifests, kubectl rollout status, helm upgrade --install --wait of
//     the same chart and values) plus the same data-plane work (deploy-all --no-cluster) and, by hand with psql
//     and kubectl, what the kit makes besides the manifests (the services' logins, databases and Secrets, the
//     Dapr state store's login and schema),
//   - the no-op re-run, verify-all, and the kubectl/helm processes each spawns (counted by shims on PATH).
//   - an "ideal" floor: the same bare commands with deploy-all's overlap (Kafka, PostgreSQL and the chart together,
//     then the components), on a third cluster;
//   - the topic reconcile alone against a fresh real broker (the catalogue's topics created, then again: a no-op).
// Goals: deploy-all within 1.3x of the floor, within 1.1x of the ideal floor; the re-run under 10 s (and the
// faster-to-green goals: under 1.5 s with at most 8 kubectl/helm processes; verify-all under 2 s). --commands lists
// deploy-all's, the re-run's and verify-all's processes.
// Usage: bench/deploy-bench.mts [--runs N]. The pieces it shares with bench/real-node-bench.mts: bench/common.ts.

import { rmSync } from 'node:fs';
import { CHART, REPO, floorCluster, floorDatabases, floorDataPlane, idealFloorCluster, kit, printResults, render, runsFlag, shimDir, Steps, type Timed } from './common.js';
import { Kafka, logLevel } from 'kafkajs';
import { loadCatalogue } from '../scripts/lib/components/kafka/catalogue.js';
import { applyPlan, observeTopics, planReconcile } from '../scripts/lib/components/kafka/reconcile.js';
import { startKafka } from '../test/support/kafka.js';
import { startKubeCluster } from '../test/support/kube-cluster.js';
import { startPostgres } from '../test/support/postgres.js';

const runs = runsFlag();

/**
 * The topic reconcile alone, in this process, against a fresh real broker: the catalogue's read, plan and admin
 * calls (every topic created), then the same again (nothing to do).
 */
async function topicReconcile(brokers: string[]): Promise<Record<string, Timed>> {
  const catalogue = loadCatalogue(REPO);
  const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const reconcile = async (expect: 'created' | 'unchanged'): Promise<Timed> => {
      const started = process.hrtime.bigint();
      const observed = await observeTopics(
        admin,
        catalogue.topics.map((t) => t.name),
      );
      const outcome = await applyPlan(admin, planReconcile(catalogue.topics, observed, 1));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const wrong = catalogue.topics.filter((t) => outcome[t.name] !== expect);
      if (wrong.length) throw new Error(`topic reconcile: ${wrong.map((t) => `${t.name} ${outcome[t.name]}`).join(', ')} (expected ${expect})`);
      return { ms, code: 0, processes: 0, commands: [], stderr: '' };
    };
    const n = catalogue.topics.length;
    return { [`${n} topics: reconcile`]: await reconcile('created'), [`${n} topics: again`]: await reconcile('unchanged') };
  } finally {
    await admin.disconnect();
  }
}

async function once(): Promise<Record<string, Timed>> {
  const start = (name: string) => startKubeCluster({ name, nodeCpu: '8', nodeMemory: '16Gi' });
  const [a, b, c] = await Promise.all([start('bench-floor'), start('bench-kit'), start('bench-ideal')]);
  // A PostgreSQL each: the services' logins and databases are server-wide, and each run makes them anew.
  const [pgA, pgB, pgC, kafkaA, kafkaB, kafkaC, kafkaD] = await Promise.all([
    startPostgres(),
    startPostgres(),
    startPostgres(),
    startKafka(),
    startKafka(),
    startKafka(),
    startKafka(),
  ]);
  const shims = shimDir(a.binDir);
  try {
    const urlA = await pgA.createDatabase('learnflow_floor');
    const urlB = await pgB.createDatabase('learnflow_kit');
    const epA = ['--pg-url', urlA, '--kafka-brokers', kafkaA.brokers.join(',')];
    const epB = ['--pg-url', urlB, '--kafka-brokers', kafkaB.brokers.join(',')];
    // Render once (the floor applies exactly what the kit would).
    await render(shims);
    const result: Record<string, Timed> = {};
    const floor = new Steps();
    await floorCluster(a, shims, floor);
    await floorDataPlane(a, shims, floor, epA);
    await floorDatabases(a, shims, floor, urlA, { parallel: false });
    result.floor = floor.result();
    // The ideal floor: the same commands with deploy-all's overlap, then the same data-plane work.
    const ideal = await idealFloorCluster(c, a.binDir);
    const idealData = new Steps();
    const urlC = await pgC.createDatabase('learnflow_ideal');
    await floorDataPlane(c, shims, idealData, ['--pg-url', urlC, '--kafka-brokers', kafkaC.brokers.join(',')]);
    await floorDatabases(c, shims, idealData, urlC, { parallel: true });
    result['ideal floor'] = { ...ideal, ms: ideal.ms + idealData.ms, processes: ideal.processes + idealData.processes };
    const bb = { ...b, env: { ...b.env, LEARNFLOW_DAPR_CHART: CHART } };
    result['deploy-all'] = await kit('deploy-all.mts', epB, bb, shims);
    result['deploy-all (re-run)'] = await kit('deploy-all.mts', epB, bb, shims);
    result['verify-all'] = await kit('verify-all.mts', [...epB, '--skip-probe'], bb, shims);
    Object.assign(result, await topicReconcile(kafkaD.brokers));
    for (const [k, v] of Object.entries(result)) if (v.code !== 0) throw new Error(`${k} failed (exit ${v.code}):\n${v.stderr.slice(-3000)}`);
    return result;
  } finally {
    rmSync(shims.dir, { recursive: true, force: true });
    await Promise.all([a.stop(), b.stop(), c.stop(), pgA.stop(), pgB.stop(), pgC.stop(), kafkaA.stop(), kafkaB.stop(), kafkaC.stop(), kafkaD.stop()]);
  }
}

const all: Record<string, Timed>[] = [];
for (let i = 0; i < runs; i++) all.push(await once());
process.exitCode = printResults(all, 'simulated cluster (KWOK), real PostgreSQL and Kafka on loopback') ? 0 : 1;
// --commands: every kubectl/helm process of the last run's deploy-all, re-run and verify-all, to see where the count goes.
if (process.argv.includes('--commands')) {
  for (const what of ['deploy-all', 'deploy-all (re-run)', 'verify-all']) {
    console.log(`\n${what}: ${all.at(-1)![what]!.processes} processes`);
    for (const c of all.at(-1)![what]!.commands) console.log(`  ${c.length > 150 ? c.slice(0, 147) + '...' : c}`);
  }
}
