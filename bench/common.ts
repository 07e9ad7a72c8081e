// The pieces the deploy benchmarks share (bench/deploy-bench.mts on KWOK nodes, bench/real-node-bench.mts on the
// real node): kubectl/helm shims that count processes, a timed run, the kit's entry scripts, the FLOOR (the bare
// commands for the same objects), the median and the closing table.

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { SECRET_PLACEHOLDER } from '../scripts/lib/kube/manifests.js';
import { readVersions } from '../scripts/lib/core/repo.js';
import { CLUSTER_ID_PLACEHOLDER } from '../scripts/lib/components/kafka/manifests.js';
import { newClusterId } from '../scripts/lib/components/shared/kafka-topology.js';
import { DEFAULT_SERVICE_DATABASES, loadServiceDatabases } from '../scripts/lib/components/postgres/service-databases.js';
import { STATE_ROLE, STATE_SCHEMA, STATESTORE_SECRET } from '../scripts/lib/components/dapr/settings.js';
import type { KubeCluster } from '../test/support/kube-cluster.js';
import { runProcess } from '../test/support/process.js';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const V = readVersions();
export const CHART = path.join(process.env.LEARNFLOW_TEST_CACHE ?? path.join(homedir(), '.cache', 'learnflow-test'), `dapr-chart-${V.dapr.version}`, 'dapr');

export function runsFlag(): number {
  return Number(process.argv[process.argv.indexOf('--runs') + 1] || 1) || 1;
}

export interface Timed {
  ms: number;
  code: number | null;
  processes: number;
  /** Each kubectl/helm process, as `tool args`. */
  commands: string[];
  stderr: string;
}

export interface Shims {
  dir: string;
  log: string;
  count(): number;
  commands(): string[];
  reset(): void;
}

/** Shims that log every kubectl/helm start, then exec the real binary. */
export function shimDir(binDir: string): Shims {
  const dir = mkdtempSync(path.join(tmpdir(), 'lf-bench-shims-'));
  const log = path.join(dir, 'calls.log');
  const commands = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  for (const tool of ['kubectl', 'helm']) {
    const file = path.join(dir, tool);
    // One line per process: the tool and its arguments (what --commands prints).
    writeFileSync(file, `#!/bin/sh\nprintf '%s %s\\n' ${tool} "$*" >> '${log}'\nexec '${path.join(binDir, tool)}' "$@"\n`);
    chmodSync(file, 0o755);
  }
  return {
    dir,
    log,
    count: () => commands().length,
    commands,
    reset: () => writeFileSync(log, ''),
  };
}

export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, shims: Shims, input?: string): Promise<Timed> {
  shims.reset();
  // No step of a benchmark runs for half an hour: one that does is stuck, and the benchmark says so.
  const r = await runProcess(cmd, args, { cwd: REPO, env: { ...env, PATH: `${shims.dir}:${env.PATH}`, CI: 'true' }, input, timeoutMs: 30 * 60_000 });
  return { ms: r.durationMs, code: r.code, processes: shims.count(), commands: shims.commands(), stderr: r.stderr };
}

export const kit = (script: string, args: string[], c: Pick<KubeCluster, 'context' | 'env'>, shims: Shims) =>
  run(process.execPath, ['--import', 'tsx', script, '--context', c.context, ...args], c.env, shims);

/** `deploy-all --dry-run` once: it writes .learnflow/rendered/*.yaml, which the floor applies. */
export async function render(shims: Shims): Promise<void> {
  const dry = await run(process.execPath, ['--import', 'tsx', 'deploy-all.mts', '--dry-run', '--dapr-chart', CHART], process.env, shims);
  if (dry.code !== 0) throw new Error(dry.stderr);
}

/** What every Secret value of the floor becomes (the rendered files hold a placeholder the API server refuses). */
export const BENCH_SECRET = 'bench-value';
const BENCH_SECRET_B64 = Buffer.from(BENCH_SECRET).toString('base64');
/** The floor's brokers get a real KRaft cluster id where the rendered files hold the kit's placeholder (chosen at deploy). */
const BENCH_CLUSTER_ID = newClusterId();

/** Adds up timed steps; a failed one throws. */
export class Steps {
  ms = 0;
  processes = 0;
  async step(t: Promise<Timed>, what: string): Promise<Timed> {
    const r = await t;
    if (r.code !== 0) throw new Error(`floor step failed: ${what}\n${r.stderr}`);
    this.ms += r.ms;
    this.processes += r.processes;
    return r;
  }
  result(): Timed {
    return { ms: this.ms, code: 0, processes: this.processes, commands: [], stderr: '' };
  }
}

/** A file the kit rendered (--dry-run), with what the floor needs in place of its placeholders. */
function rendered(name: string): string {
  return readFileSync(path.join(REPO, '.learnflow', 'rendered', `${name}.yaml`), 'utf8')
    .replaceAll(SECRET_PLACEHOLDER, BENCH_SECRET_B64)
    .replaceAll(CLUSTER_ID_PLACEHOLDER, BENCH_CLUSTER_ID);
}

/** The chart install a person would type: the same chart, values and tag as install-dapr, waiting for readiness. */
function helmInstallArgs(c: KubeCluster): string[] {
  return [
    '--kube-context',
    c.context,
    'upgrade',
    '--install',
    'dapr',
    CHART,
    '-n',
    'dapr-system',
    '--create-namespace',
    '-f',
    'k8s/dapr/values.yaml',
    '--set-string',
    `global.tag=${V.dapr.version}`,
    '--wait',
    '--timeout',
    '5m',
  ];
}

/**
 * The cluster side of the floor, the bare commands a careful person would type for the kit's objects: `kubectl apply
 * --server-side` of the manifests the kit renders (Kafka and PostgreSQL together, as deploy-all does), `kubectl
 * rollout status` of both (a watch: no polling delay), `helm upgrade --install --wait` of the same chart and values,
 * `kubectl apply` of the Dapr components.
 */
export async function floorCluster(c: KubeCluster, shims: Shims, steps: Steps): Promise<void> {
  const kubectl = (args: string[], input?: string) => run('kubectl', ['--context', c.context, ...args], c.env, shims, input);
  await steps.step(
    kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], rendered('kafka') + '\n---\n' + rendered('postgres')),
    'apply kafka+postgres',
  );
  await steps.step(kubectl(['rollout', 'status', 'statefulset/kafka', '-n', 'learnflow', '--timeout=10m']), 'rollout kafka');
  await steps.step(kubectl(['rollout', 'status', 'statefulset/postgresql', '-n', 'learnflow', '--timeout=10m']), 'rollout postgresql');
  await steps.step(run('helm', helmInstallArgs(c), c.env, shims), 'helm dapr');
  await steps.step(kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], rendered('dapr')), 'apply dapr components');
}

/**
 * The "ideal" floor: the same bare commands with the overlap deploy-all uses (Kafka and PostgreSQL applied and
 * rolled out while the chart installs, then the Dapr components), timed by the wall clock. Each concurrent command
 * gets its own shims, so the process count stays exact.
 */
export async function idealFloorCluster(c: KubeCluster, binDir: string): Promise<Timed> {
  const all: Shims[] = [];
  const fresh = () => (all.push(shimDir(binDir)), all.at(-1)!);
  const ok = async (t: Promise<Timed>, what: string) => {
    const r = await t;
    if (r.code !== 0) throw new Error(`ideal floor step failed: ${what}\n${r.stderr}`);
    return r;
  };
  const kubectl = (args: string[], input?: string) => run('kubectl', ['--context', c.context, ...args], c.env, fresh(), input);
  const started = process.hrtime.bigint();
  try {
    const data = (async () => {
      await ok(
        kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], rendered('kafka') + '\n---\n' + rendered('postgres')),
        'apply kafka+postgres',
      );
      await Promise.all([
        ok(kubectl(['rollout', 'status', 'statefulset/kafka', '-n', 'learnflow', '--timeout=10m']), 'rollout kafka'),
        ok(kubectl(['rollout', 'status', 'statefulset/postgresql', '-n', 'learnflow', '--timeout=10m']), 'rollout postgresql'),
      ]);
    })();
    const chart = ok(run('helm', helmInstallArgs(c), c.env, fresh()), 'helm dapr');
    await Promise.all([data, chart]);
    await ok(kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], rendered('dapr')), 'apply dapr components');
    return {
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      code: 0,
      processes: all.reduce((n, s) => n + s.count(), 0),
      commands: all.flatMap((s) => s.commands()),
      stderr: '',
    };
  } finally {
    for (const s of all) rmSync(s.dir, { recursive: true, force: true });
  }
}

/** The data-plane side of the floor: the kit's own migrations and topics (deploy-all --no-cluster), which a person would otherwise do by hand. */
export async function floorDataPlane(c: KubeCluster, shims: Shims, steps: Steps, endpoints: string[]): Promise<void> {
  await steps.step(run(process.execPath, ['--import', 'tsx', 'deploy-all.mts', '--no-cluster', ...endpoints], c.env, shims), 'data plane');
}

/**
 * What the kit makes besides the manifests, as a person would by hand with psql and kubectl: each service's login
 * and database with PUBLIC's CONNECT revoked (k8s/postgres/service-databases.yaml), the Dapr state store's login and
 * schema, and their Secrets in one apply. `parallel`: the services at once, as deploy-all creates them (the ideal
 * floor); else one psql after another.
 */
export async function floorDatabases(c: KubeCluster, shims: Shims, steps: Steps, pgUrl: string, o: { parallel: boolean }): Promise<void> {
  const services = loadServiceDatabases(path.join(REPO, DEFAULT_SERVICE_DATABASES));
  const psql = (...sql: string[]) => run('psql', [pgUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', ...sql.flatMap((q) => ['-c', q])], c.env, shims);
  const perService = services.map(
    (s) => () =>
      psql(
        `CREATE ROLE ${s.role} LOGIN PASSWORD '${BENCH_SECRET}'`,
        `CREATE DATABASE ${s.database} OWNER ${s.role}`,
        `REVOKE CONNECT, TEMPORARY ON DATABASE ${s.database} FROM PUBLIC`,
      ),
  );
  const started = process.hrtime.bigint();
  if (o.parallel) {
    for (const r of await Promise.all(perService.map((f) => f()))) if (r.code !== 0) throw new Error(`floor step failed: service databases\n${r.stderr}`);
    steps.ms += Number(process.hrtime.bigint() - started) / 1e6;
  } else {
    for (const f of perService) await steps.step(f(), 'a service database');
  }
  await steps.step(
    psql(
      `CREATE ROLE ${STATE_ROLE} LOGIN PASSWORD '${BENCH_SECRET}'`,
      `CREATE SCHEMA ${STATE_SCHEMA} AUTHORIZATION ${STATE_ROLE}`,
      `ALTER ROLE ${STATE_ROLE} SET search_path = ${STATE_SCHEMA}`,
    ),
    'the state store login',
  );
  const secret = (name: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: learnflow}\nstringData: {password: ${BENCH_SECRET}}\n`;
  const secrets = [...services.map((s) => secret(s.secret)), secret(STATESTORE_SECRET)].join('---\n');
  await steps.step(
    run('kubectl', ['--context', c.context, 'apply', '--server-side', '--field-manager=bench', '-f', '-'], c.env, shims, secrets),
    'their Secrets',
  );
}

export const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/** The closing table and the ratio; returns whether the goals (deploy-all within 1.3x of the floor, re-run under 10 s) are met. */
export function printResults(all: Record<string, Timed>[], title: string): boolean {
  const rows = Object.keys(all[0]!).map((k) => ({ what: k, ms: median(all.map((r) => r[k]!.ms)), processes: median(all.map((r) => r[k]!.processes)) }));
  const get = (k: string) => rows.find((r) => r.what === k)!;
  const ratio = get('deploy-all').ms / get('floor').ms;
  console.log(`deploy benchmark, ${all.length} run(s), median; ${title}\n`);
  console.log('what                  wall time   kubectl/helm processes');
  for (const r of rows) console.log(`${r.what.padEnd(22)}${(r.ms / 1000).toFixed(2).padStart(8)} s   ${String(r.processes).padStart(5)}`);
  console.log(`\ndeploy-all / floor = ${ratio.toFixed(2)}x (goal <= 1.3x)   re-run = ${(get('deploy-all (re-run)').ms / 1000).toFixed(2)} s (goal < 10 s)`);
  const ideal = rows.find((r) => r.what === 'ideal floor');
  if (ideal) {
    const rerun = get('deploy-all (re-run)');
    const verify = get('verify-all');
    console.log(
      `deploy-all / ideal floor = ${(get('deploy-all').ms / ideal.ms).toFixed(2)}x (goal <= 1.1x, and below the floor)   ` +
        `re-run ${(rerun.ms / 1000).toFixed(2)} s with ${rerun.processes} processes (goal < 1.5 s, <= 8)   verify-all ${(verify.ms / 1000).toFixed(2)} s (goal < 2 s)`,
    );
  }
  return ratio <= 1.3 && get('deploy-all (re-run)').ms < 10_000;
}
