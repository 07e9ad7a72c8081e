#!/bin/sh
":" //; r="$(cd "$(dirname "$0")/.." && pwd)"; [ -e "$r/node_modules/tsx/dist/loader.mjs" ] || { echo "$(basename "$0"): run 'npm ci' in $r first" >&2; exit 3; }; exec node --import "$r/node_modules/tsx/dist/loader.mjs" "$0" "$@"
// Benchmark (not a test) on the REAL node: two fresh clusters, each with a real node whose containerd holds the
// images (no pull) and fresh hostPath volumes, the namespace steered onto it (test/support/real-node.ts), so Kafka
// and PostgreSQL start as containers. Measures in one run
//   - the FLOOR on one cluster: the bare commands for the same objects (bench/common.ts: kubectl apply --server-side
//     of the rendered manifests, kubectl rollout status, helm upgrade --install --wait, kubectl apply of the
//     components), then what a person does to reach the pods (kubectl port-forward to pod/kafka-0 on 29092, the
//     port the broker advertises, and to svc/postgresql) and the same data-plane work through them
//     (deploy-all --no-cluster with --pg-url/--kafka-brokers pointing at those forwards);
//   - on the other: deploy-all with no endpoint (it opens its own port-forwards), its no-op re-run and
//     verify-all --skip-probe (no daprd sidecar can run here);
//   - for both deploys, the time from apply (the StatefulSet appears in a watch) to each pod Ready (its Ready
//     condition turns True in a watch), and the kubectl/helm processes each spawned (shims on PATH).
// Usage: bench/real-node-bench.mts [--runs N]

import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { freeLocalPort } from '../scripts/lib/run/port-forward.js';
import { BENCH_SECRET, CHART, floorCluster, floorDatabases, floorDataPlane, kit, median, printResults, render, runsFlag, shimDir, Steps, type Timed } from './common.js';
import { startKubeCluster, type KubeCluster } from '../test/support/kube-cluster.js';
import { holdLock, KAFKA_LOCAL_PORT_LOCK } from '../test/support/locks.js';
import { steerNamespaceToRealNode } from '../test/support/real-node.js';

const NS = 'learnflow';
const runs = runsFlag();

/** Watches (no polling) when each StatefulSet appears and when each of its pods first turns Ready. */
function watchReady(c: KubeCluster): { settled: Promise<void>; stop(): void; applyToReady(): Record<string, number> } {
  const appeared = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const watch = (kind: string, template: string, onLine: (fields: string[]) => void): ChildProcess => {
    const child = spawn(path.join(c.binDir, 'kubectl'), ['--kubeconfig', c.kubeconfig, 'get', kind, '-n', NS, '--watch', '-o', `jsonpath=${template}`], { env: c.env, stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      const now = performance.now();
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) onLine(l.trim().split(/\s+/).concat(String(now)));
    });
    return child;
  };
  const children = [
    watch('statefulsets', '{.metadata.name}{"\\n"}', ([name, at]) => void (appeared.has(name!) || appeared.set(name!, Number(at)))),
    watch('pods', '{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}', ([name, status, at]) => {
      if (status === 'True' && !readyAt.has(name!)) readyAt.set(name!, Number(at));
    }),
  ];
  return {
    // A watch that connects after the apply would see the StatefulSet late: callers wait for settled first.
    settled: new Promise<void>((r) => setTimeout(r, 1500)),
    stop: () => children.forEach((ch) => ch.kill()),
    applyToReady: () => Object.fromEntries([...readyAt].map(([pod, at]) => [pod, at - (appeared.get(pod.replace(/-\d+$/, '')) ?? NaN)])),
  };
}

/** `kubectl port-forward` as a person types it, until it says it is forwarding. */
function forward(c: KubeCluster, resource: string, ports: string): Promise<{ child: ChildProcess; ms: number }> {
  const started = performance.now();
  const child = spawn(path.join(c.binDir, 'kubectl'), ['--kubeconfig', c.kubeconfig, 'port-forward', '-n', NS, resource, ports, '--address', '127.0.0.1'], { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Forwarding from')) resolve({ child, ms: performance.now() - started });
    });
    child.on('exit', (code) => reject(new Error(`kubectl port-forward ${resource} ${ports} exited ${code}: ${err}`)));
  });
}

interface Run {
  timed: Record<string, Timed>;
  ready: Record<string, Record<string, number>>;
  /** Working set per container (bytes) after deploy-all and verify-all, from the kubelet's summary API. */
  memory: Record<string, number>;
}

/**
 * What the stack's containers hold in memory once it is up: the kubelet's own figure (the working set, what the
 * kernel's OOM killer and `kubectl top` go by), read through the API server as `kubectl top` would.
 */
async function workingSets(c: KubeCluster): Promise<Record<string, number>> {
  const summary = JSON.parse(await c.kubectl(['get', '--raw', `/api/v1/nodes/${c.realNode!.name}/proxy/stats/summary`])) as {
    pods?: { podRef: { name: string; namespace: string }; containers?: { name: string; memory?: { workingSetBytes?: number } }[] }[];
  };
  const out: Record<string, number> = {};
  for (const p of summary.pods ?? []) {
    if (p.podRef.namespace !== NS) continue;
    for (const ct of p.containers ?? []) if (ct.memory?.workingSetBytes !== undefined) out[`${p.podRef.name}/${ct.name}`] = ct.memory.workingSetBytes;
  }
  return out;
}

async function once(): Promise<Run> {
  const start = (name: string) => startKubeCluster({ name, realNode: true }).then(async (c) => (await steerNamespaceToRealNode(c, NS), c));
  const [a, b] = await Promise.all([start('bench-rn-floor'), start('bench-rn-kit')]);
  const shims = shimDir(a.binDir);
  const forwards: ChildProcess[] = [];
  try {
    await render(shims);
    const timed: Record<string, Timed> = {};
    const ready: Record<string, Record<string, number>> = {};

    const watchA = watchReady(a);
    await watchA.settled;
    const floor = new Steps();
    await floorCluster(a, shims, floor);
    ready.floor = watchA.applyToReady();
    watchA.stop();
    const pgPort = await freeLocalPort();
    const [kafkaPf, pgPf] = await Promise.all([forward(a, 'pod/kafka-0', '29092:29092'), forward(a, 'svc/postgresql', `${pgPort}:5432`)]);
    forwards.push(kafkaPf.child, pgPf.child);
    // Both were started together: the slower one is what the person waited for.
    floor.ms += Math.max(kafkaPf.ms, pgPf.ms);
    floor.processes += 2;
    const user = encodeURIComponent(BENCH_SECRET);
    const floorUrl = `postgresql://${user}:${user}@127.0.0.1:${pgPort}/learnflow`;
    await floorDataPlane(a, shims, floor, ['--pg-url', floorUrl, '--kafka-brokers', '127.0.0.1:29092']);
    await floorDatabases(a, shims, floor, floorUrl, { parallel: false });
    timed.floor = floor.result();
    for (const f of forwards.splice(0)) f.kill();

    const bb = { ...b, env: { ...b.env, LEARNFLOW_DAPR_CHART: CHART } };
    const watchB = watchReady(b);
    await watchB.settled;
    timed['deploy-all'] = await kit('deploy-all.mts', [], bb, shims);
    ready['deploy-all'] = watchB.applyToReady();
    watchB.stop();
    timed['deploy-all (re-run)'] = await kit('deploy-all.mts', [], bb, shims);
    timed['verify-all'] = await kit('verify-all.mts', ['--skip-probe'], bb, shims);
    for (const [k, v] of Object.entries(timed)) if (v.code !== 0) throw new Error(`${k} failed (exit ${v.code}):\n${v.stderr.slice(-3000)}`);
    return { timed, ready, memory: await workingSets(b) };
  } finally {
    for (const f of forwards) f.kill();
    rmSync(shims.dir, { recursive: true, force: true });
    await Promise.all([a.stop(), b.stop()]);
  }
}

// Both deploys open a port-forward on the fixed 127.0.0.1:29092: wait for any test run that holds it.
const release = await holdLock(KAFKA_LOCAL_PORT_LOCK);
try {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) all.push(await once());
  const ok = printResults(all.map((r) => r.timed), 'real node (kubelet + containerd, images loaded, fresh volumes), Kafka and PostgreSQL as containers, data plane through port-forwards');
  console.log('\napply -> pod Ready (median)');
  for (const who of ['floor', 'deploy-all']) {
    const pods = Object.keys(all[0]!.ready[who] ?? {}).sort();
    console.log(`  ${who.padEnd(12)}${pods.map((p) => `${p} ${(median(all.map((r) => r.ready[who]![p]!)) / 1000).toFixed(2)} s`).join('   ')}`);
  }
  console.log('\nmemory in use after deploy-all and verify-all (working set, median; the stand-in images, see docs/testing-substrate.md)');
  for (const ct of Object.keys(all[0]!.memory).sort()) console.log(`  ${ct.padEnd(28)}${(median(all.map((r) => r.memory[ct]!)) / 2 ** 20).toFixed(0)} MiB`);
  process.exitCode = ok ? 0 : 1;
} finally {
  release();
}
