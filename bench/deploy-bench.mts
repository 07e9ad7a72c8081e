#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Benchmark (not a test): on fresh simulated clusters (real API server, KWOK nodes) with a real
// PostgreSQL and Kafka, measures in one run
//   - deploy-all wall time against a FLOOR: the bare commands for the same objects (kubectl apply
//     --server-side of the rendered manifests, kubectl rollout status, helm upgrade --install --wait of
//     the same chart and values) plus the same data-plane work (deploy-all --no-cluster),
//   - the no-op re-run, verify-all, and the kubectl/helm processes each spawns (counted by shims on PATH).
// Goals (issue 6): deploy-all within 1.3x of the floor; the re-run under 10 s.
// Usage: bench/deploy-bench.mts [--runs N]

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { readVersions } from '../scripts/lib/kube/manifests.js';
import { startKafka } from '../test/support/kafka.js';
import { startKubeCluster, type KubeCluster } from '../test/support/kube-cluster.js';
import { startPostgres } from '../test/support/postgres.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const V = readVersions();
const CHART = path.join(process.env.LEARNFLOW_TEST_CACHE ?? path.join(homedir(), '.cache', 'learnflow-test'), `dapr-chart-${V.dapr.version}`, 'dapr');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 1) || 1;

interface Timed {
  ms: number;
  code: number | null;
  processes: number;
  stderr: string;
}

/** Shims that log every kubectl/helm start, then exec the real binary. */
function shimDir(binDir: string): { dir: string; log: string; count(): number; reset(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'lf-bench-shims-'));
  const log = path.join(dir, 'calls.log');
  for (const tool of ['kubectl', 'helm']) {
    const file = path.join(dir, tool);
    writeFileSync(file, `#!/bin/sh\necho ${tool} >> '${log}'\nexec '${path.join(binDir, tool)}' "$@"\n`);
    chmodSync(file, 0o755);
  }
  return {
    dir,
    log,
    count: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0),
    reset: () => writeFileSync(log, ''),
  };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, shims: ReturnType<typeof shimDir>, input?: string): Promise<Timed> {
  shims.reset();
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, env: { ...env, PATH: `${shims.dir}:${env.PATH}`, CI: 'true' }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, processes: shims.count(), stderr }));
  });
}

const kit = (script: string, args: string[], c: KubeCluster, shims: ReturnType<typeof shimDir>) => run(process.execPath, ['--import', 'tsx', script, '--context', c.context, ...args], c.env, shims);

/** The bare commands a careful person would type for the same objects. */
async function floor(c: KubeCluster, shims: ReturnType<typeof shimDir>, endpoints: string[]): Promise<Timed> {
  const rendered = (name: string) => readFileSync(path.join(REPO, '.learnflow', 'rendered', `${name}.yaml`), 'utf8').replace(/<redacted>/g, 'bench-value');
  let ms = 0;
  let processes = 0;
  const step = async (t: Promise<Timed>, what: string) => {
    const r = await t;
    if (r.code !== 0) throw new Error(`floor step failed: ${what}\n${r.stderr}`);
    ms += r.ms;
    processes += r.processes;
  };
  const kubectl = (args: string[], input?: string) => run('kubectl', ['--context', c.context, ...args], c.env, shims, input);
  // Kafka and PostgreSQL objects together (as deploy-all does), then wait for both.
  await step(kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], rendered('kafka') + '\n---\n' + rendered('postgres')), 'apply kafka+postgres');
  await step(kubectl(['rollout', 'status', 'statefulset/kafka', '-n', 'learnflow', '--timeout=10m']), 'rollout kafka');
  await step(kubectl(['rollout', 'status', 'statefulset/postgresql', '-n', 'learnflow', '--timeout=10m']), 'rollout postgresql');
  await step(run('helm', ['--kube-context', c.context, 'upgrade', '--install', 'dapr', CHART, '-n', 'dapr-system', '--create-namespace', '-f', 'k8s/dapr/values.yaml', '--set-string', `global.tag=${V.dapr.version}`, '--wait', '--timeout', '5m'], c.env, shims), 'helm dapr');
  await step(kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], rendered('dapr')), 'apply dapr components');
  // The same data-plane work the kit does (migrations, topics, state-store role), without its cluster steps.
  await step(run(process.execPath, ['--import', 'tsx', 'deploy-all.mts', '--no-cluster', ...endpoints], c.env, shims), 'data plane');
  return { ms, code: 0, processes, stderr: '' };
}

async function once(): Promise<Record<string, Timed>> {
  const [a, b] = await Promise.all([startKubeCluster({ name: 'bench-floor', nodeCpu: '8', nodeMemory: '16Gi' }), startKubeCluster({ name: 'bench-kit', nodeCpu: '8', nodeMemory: '16Gi' })]);
  const [pg, kafkaA, kafkaB] = await Promise.all([startPostgres(), startKafka(), startKafka()]);
  const shims = shimDir(a.binDir);
  try {
    const urlA = await pg.createDatabase('learnflow_floor');
    const urlB = await pg.createDatabase('learnflow_kit');
    const epA = ['--pg-url', urlA, '--kafka-brokers', kafkaA.brokers.join(',')];
    const epB = ['--pg-url', urlB, '--kafka-brokers', kafkaB.brokers.join(',')];
    // Render once (the floor applies exactly what the kit would).
    const dry = await run(process.execPath, ['--import', 'tsx', 'deploy-all.mts', '--dry-run', '--dapr-chart', CHART], process.env, shims);
    if (dry.code !== 0) throw new Error(dry.stderr);
    const result: Record<string, Timed> = {};
    result.floor = await floor(a, shims, epA);
    const env = { ...b.env, LEARNFLOW_DAPR_CHART: CHART };
    const bb = { ...b, env };
    result['deploy-all'] = await kit('deploy-all.mts', epB, bb, shims);
    result['deploy-all (re-run)'] = await kit('deploy-all.mts', epB, bb, shims);
    result['verify-all'] = await kit('verify-all.mts', [...epB, '--skip-probe'], bb, shims);
    for (const [k, v] of Object.entries(result)) if (v.code !== 0) throw new Error(`${k} failed (exit ${v.code}):\n${v.stderr.slice(-3000)}`);
    return result;
  } finally {
    rmSync(shims.dir, { recursive: true, force: true });
    await Promise.all([a.stop(), b.stop(), pg.stop(), kafkaA.stop(), kafkaB.stop()]);
  }
}

const all: Record<string, Timed>[] = [];
for (let i = 0; i < runs; i++) all.push(await once());
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const rows = Object.keys(all[0]!).map((k) => ({ what: k, ms: median(all.map((r) => r[k]!.ms)), processes: median(all.map((r) => r[k]!.processes)) }));
const get = (k: string) => rows.find((r) => r.what === k)!;
const ratio = get('deploy-all').ms / get('floor').ms;
console.log(`deploy benchmark, ${runs} run(s), median; simulated cluster (KWOK), real PostgreSQL and Kafka on loopback\n`);
console.log('what                  wall time   kubectl/helm processes');
for (const r of rows) console.log(`${r.what.padEnd(22)}${(r.ms / 1000).toFixed(2).padStart(8)} s   ${String(r.processes).padStart(5)}`);
console.log(`\ndeploy-all / floor = ${ratio.toFixed(2)}x (goal <= 1.3x)   re-run = ${(get('deploy-all (re-run)').ms / 1000).toFixed(2)} s (goal < 10 s)`);
process.exitCode = ratio <= 1.3 && get('deploy-all (re-run)').ms < 10_000 ? 0 : 1;
