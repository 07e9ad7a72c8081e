// The Dapr upgrade from the previous minor to the pinned version, with the kit, on a REAL Kubernetes API server with
// KWOK nodes and a REAL PostgreSQL (the state-store role): install-dapr installs the previous minor's chart (copied
// from its Go module by test/substrate/provision-kube.sh, DAPR_PREVIOUS_VERSION in versions.env), --diff and
// --dry-run plan the upgrade, then install-dapr with the pinned chart upgrades it. helm never upgrades crds/: the
// API server must end up with the pinned chart's CRDs (1.18 adds the MCPServer and WorkflowAccessPolicy CRDs and the
// scheduler's concurrency limits to the Configuration schema). No container runs here: verify uses --skip-probe.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNamespace } from '../../scripts/lib/components/postgres/manifests.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { readSubstrateVersions, standInStatefulSet, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { inCache } from '../support/paths.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';

const NEW = readVersions().dapr.version;
const OLD = readSubstrateVersions().DAPR_PREVIOUS_VERSION ?? '';
/** A version as a RegExp source. */
const re = (version: string) => version.replace(/\./g, '\\.');
const chartOf = (version: string) => inCache(`dapr-chart-${version}`, 'dapr');

let cluster: KubeCluster;
let server: PostgresInstance;
let pgUrl: string;

/** install-dapr with the chart of one version (its images by --dapr-version), or verify-dapr. */
const kit = (script: string, version: string, args: string[]) =>
  runKit(script, ['--context', cluster.context, ...args], { env: { ...cluster.env, LEARNFLOW_DAPR_CHART: chartOf(version) }, timeoutMs: 170_000 });
const installDapr = (version: string, args: string[]) => kit('scripts/install-dapr.mts', version, ['--dapr-version', version, '--pg-url', pgUrl, ...args]);
const install = (version: string) => installDapr(version, ['--json']);
const report = (stdout: string) => JSON.parse(stdout) as Report;

interface Crd {
  metadata: { name: string };
  spec: { versions: { name: string; storage: boolean; schema?: { openAPIV3Schema: unknown } }[] };
}
/** The CRDs a chart ships in crds/, by name. */
const chartCrds = (version: string) =>
  new Map(
    readdirSync(path.join(chartOf(version), 'crds'))
      .map((f) => parse(readFileSync(path.join(chartOf(version), 'crds', f), 'utf8')) as Crd)
      .map((c) => [c.metadata.name, c]),
  );
const liveCrds = async () =>
  new Map(
    (JSON.parse(await cluster.kubectl(['get', 'crd', '-o', 'json'])) as { items: Crd[] }).items
      .filter((c) => c.metadata.name.endsWith('.dapr.io'))
      .map((c) => [c.metadata.name, c]),
  );
/** The scheduler's global workflow limit, new in the 1.18 Configuration schema. */
const workflowLimit = (c: Crd | undefined) =>
  (
    c?.spec.versions.find((v) => v.storage)?.schema?.openAPIV3Schema as
      { properties: { spec: { properties: { workflow?: { properties: Record<string, unknown> } } } } } | undefined
  )?.properties.spec.properties.workflow?.properties.globalMaxConcurrentWorkflowInvocations;
const releases = () => {
  const r = spawnSync('helm', ['--kube-context', cluster.context, 'list', '-n', 'dapr-system', '-o', 'json'], { env: cluster.env, encoding: 'utf8' });
  return JSON.parse(r.stdout || '[]') as { revision: string; status: string }[];
};
const tagOfRelease = () => {
  const r = spawnSync('helm', ['--kube-context', cluster.context, 'get', 'values', 'dapr', '-n', 'dapr-system', '-o', 'json'], {
    env: cluster.env,
    encoding: 'utf8',
  });
  return (JSON.parse(r.stdout) as { global?: { tag?: string } }).global?.tag;
};

beforeAll(async () => {
  if (!/^1\.17\.\d+$/.test(OLD)) throw new Error(`DAPR_PREVIOUS_VERSION in test/substrate/versions.env is '${OLD}', not a 1.17 version`);
  for (const v of [OLD, NEW]) {
    if (!existsSync(path.join(chartOf(v), 'Chart.yaml')))
      throw new Error(`the Dapr ${v} chart is not provisioned at ${chartOf(v)}: run bash test/substrate/provision-kube.sh`);
  }
  await Promise.all([startKubeCluster({ name: 'dapr-up' }).then((c) => (cluster = c)), startPostgres().then((p) => (server = p))]);
  pgUrl = await server.createDatabase('learnflow');
  await cluster.apply(
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...renderNamespace('learnflow'), standInStatefulSet('kafka'), standInStatefulSet('postgresql')] }),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), server?.stop()]);
}, 120_000);

describe(`Dapr ${OLD} -> ${NEW} with the kit on a simulated cluster`, () => {
  it(`installs ${OLD} from its own chart: the API server has the ${OLD} CRDs`, { timeout: 170_000 }, async () => {
    // The two charts' CRDs differ where the test below looks (else it would prove nothing).
    expect(chartCrds(OLD).has('mcpservers.dapr.io')).toBe(false);
    expect(workflowLimit(chartCrds(OLD).get('configurations.dapr.io'))).toBeUndefined();
    expect(workflowLimit(chartCrds(NEW).get('configurations.dapr.io'))).toMatchObject({ type: 'integer' });

    const r = await install(OLD);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(report(r.stdout).steps[0]!.changes).toMatchObject({
      'helm release dapr': 'created',
      'component/kafka-pubsub': 'created',
      'component/statestore': 'created',
    });
    const crds = await liveCrds();
    expect([...crds.keys()].sort()).toEqual([...chartCrds(OLD).keys()].sort());
    expect(workflowLimit(crds.get('configurations.dapr.io'))).toBeUndefined();
    expect(tagOfRelease()).toBe(OLD);
  });

  it(`--diff and --dry-run on the ${OLD} install plan the upgrade and change nothing`, { timeout: 120_000 }, async () => {
    const diff = await installDapr(NEW, ['--diff']);
    expect(diff.stderr).not.toMatch(STACK_TRACE);
    expect(diff.code, diff.stderr.slice(-3000)).toBe(1);
    expect(diff.stdout + diff.stderr).toContain(
      `dapr ${OLD} -> ${NEW}: the chart's CRDs applied, then helm upgrade; running apps keep their sidecars until restarted`,
    );
    expect(diff.stdout + diff.stderr).toContain(`global.tag: "${OLD}" -> "${NEW}"`);

    const dry = await installDapr(NEW, ['--dry-run']);
    expect(dry.code, dry.stderr.slice(-3000)).toBe(0);
    expect(dry.stderr).toContain(`--set-string global.tag=${NEW}`);
    expect(dry.stderr).toMatch(new RegExp(`a release at another Dapr version gets the chart's CRDs first, then is upgraded to ${re(NEW)}`));
    expect(releases()).toMatchObject([{ revision: '1', status: 'deployed' }]);
    expect(tagOfRelease()).toBe(OLD);
  });

  it(`upgrades to ${NEW}: the ${NEW} CRDs, the release at ${NEW}, the components kept, verify green`, { timeout: 170_000 }, async () => {
    const r = await install(NEW);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    // The time the kit took for the whole upgrade (CRDs, helm upgrade, the control plane ready again).
    console.log(
      `dapr ${OLD} -> ${NEW} upgrade on the simulated cluster: ${(r.durationMs / 1000).toFixed(1)}s (CRDs and helm upgrade: ${/in (\d+\.\ds)/.exec(r.stderr)?.[1]})`,
    );
    expect(r.stderr).toMatch(new RegExp(`helm release dapr upgraded \\(dapr ${re(OLD)} -> ${re(NEW)}\\) in \\d+\\.\\ds`));
    const changes = report(r.stdout).steps[0]!.changes!;
    expect(changes).toMatchObject({ 'helm release dapr': 'configured', 'component/kafka-pubsub': 'unchanged', 'component/statestore': 'unchanged' });
    // 1.18 brings two CRDs and changes the Configuration's schema.
    const crd = (name: string) => changes[`customresourcedefinition/${name}.dapr.io`];
    expect(['mcpservers', 'workflowaccesspolicies', 'configurations'].map(crd)).toEqual(['created', 'created', 'configured']);

    // Every CRD in the API server is the pinned chart's: same names, same schema of each served version.
    const crds = await liveCrds();
    const wanted = chartCrds(NEW);
    expect([...crds.keys()].sort()).toEqual([...wanted.keys()].sort());
    for (const [name, crd] of wanted) {
      const live = crds.get(name)!;
      for (const v of crd.spec.versions) expect(live.spec.versions.find((x) => x.name === v.name)?.schema, `${name} ${v.name}`).toEqual(v.schema);
    }
    expect(workflowLimit(crds.get('configurations.dapr.io'))).toMatchObject({ type: 'integer' });

    expect(releases()).toMatchObject([{ revision: '2', status: 'deployed' }]);
    expect(tagOfRelease()).toBe(NEW);
    const op = JSON.parse(await cluster.kubectl(['get', 'deployment', 'dapr-operator', '-n', 'dapr-system', '-o', 'json'])) as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(op.spec.template.spec.containers[0]!.image).toMatch(new RegExp(`:${re(NEW)}$`));
    expect(await cluster.kubectl(['get', 'components.dapr.io', '-n', 'learnflow', '-o', 'name'])).toMatch(
      /kafka-pubsub[\s\S]*statestore|statestore[\s\S]*kafka-pubsub/,
    );

    const v = await kit('scripts/verify-dapr.mts', NEW, ['--skip-probe', '--json']);
    expect(v.code, v.stdout.slice(-3000)).toBe(0);
    expect(report(v.stdout).steps[0]!.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it(
    `refuses going back to ${OLD} (its sentry cannot read the ${NEW} trust bundle) before any change, with the way through`,
    { timeout: 120_000 },
    async () => {
      const r = await install(OLD);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(r.code).toBe(1);
      const error = report(r.stdout).steps[0]!.error!;
      expect(error.message).toMatch(new RegExp(`refusing dapr ${re(NEW)} -> ${re(OLD)}: .*Ed25519`));
      expect(error.fix).toContain('./scripts/install-dapr.mts --dapr-version 1.17.7');
      expect(releases()).toMatchObject([{ revision: '2', status: 'deployed' }]);
      expect(workflowLimit((await liveCrds()).get('configurations.dapr.io'))).toMatchObject({ type: 'integer' });
    },
  );
});
