// helm command lines (helm 3 and 4), the no-op decision, the control-plane wait, the dependency gate and the
// deploy order, over a fake kubectl/helm; and --dry-run through the real entry point with no cluster at all.

import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  controlPlaneChanges,
  controlPlaneStates,
  dependenciesOf,
  helmCommandLine,
  installControlPlane,
  liveControlPlane,
  liveDaprVersion,
  refuseUnsafeDowngrade,
  liveSettings,
  releaseUpToDate,
  waitForControlPlane,
} from '../../scripts/lib/components/dapr/controlplane.js';
import { COMPONENTS } from '../../scripts/lib/components/index.js';
import { deployScript } from '../../scripts/lib/workflows/component-scripts.js';

const dapr = COMPONENTS.dapr!;
const installDaprScript = () => deployScript(dapr);
import { chooseChart, daprSettings, VALUES_FILE, type DaprSettings } from '../../scripts/lib/components/dapr/settings.js';
import { desiredValues, loadValues } from '../../scripts/lib/components/dapr/values.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { Helm, helmDuration, helmMajor, parseReleases, upgradeInstallArgs } from '../../scripts/lib/kube/helm.js';
import { SECRET_PLACEHOLDER } from '../../scripts/lib/kube/manifests.js';
import { readVersions, REPO_ROOT } from '../../scripts/lib/core/repo.js';
import { main } from '../../scripts/lib/cli/run.js';
import { workloadStates } from '../../scripts/lib/run/rollout.js';
import { fakeClock, fakeExec, fakeStep, on, type FakeHandler } from '../support/fakes.js';

const V = readVersions().dapr;
const CHART_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'no-such-chart');

describe('helm command lines', () => {
  it('installs from the chart repository without `helm repo add`, values by file, no --wait', () => {
    const args = upgradeInstallArgs({
      release: 'dapr',
      namespace: 'dapr-system',
      chart: { kind: 'repo', repo: V.repo, name: 'dapr', version: '1.18.3' },
      valuesFiles: ['k8s/dapr/values.yaml'],
      timeoutMs: 270_000,
    });
    expect(args).toEqual([
      'upgrade',
      '--install',
      'dapr',
      'dapr',
      '--repo',
      V.repo,
      '--version',
      '1.18.3',
      '--namespace',
      'dapr-system',
      '--create-namespace',
      '--values',
      'k8s/dapr/values.yaml',
      '--timeout',
      '4m30s',
    ]);
    // Flags whose meaning or name changed between helm 3 and helm 4 are not used.
    expect(args.join(' ')).not.toMatch(/--wait|--atomic|--force|--all\b/);
  });

  it('installs a local chart (from the Go module: version 0.0.0, tag edge) with the image tag set', () => {
    const args = upgradeInstallArgs({
      release: 'dapr',
      namespace: 'dapr-system',
      chart: { kind: 'local', path: '/c/dapr' },
      valuesFiles: ['v.yaml'],
      setString: { 'global.tag': '1.18.3' },
    });
    expect(args).toEqual([
      'upgrade',
      '--install',
      'dapr',
      '/c/dapr',
      '--namespace',
      'dapr-system',
      '--create-namespace',
      '--values',
      'v.yaml',
      '--set-string',
      'global.tag=1.18.3',
    ]);
  });

  it('formats helm durations and recognises helm 3 and 4 only', () => {
    expect([helmDuration(300_000), helmDuration(4_500), helmDuration(0), helmDuration(61_001)]).toEqual(['5m0s', '5s', '1s', '1m2s']);
    expect([helmMajor('v3.16.2'), helmMajor('v4.1.4'), helmMajor('v2.17.0'), helmMajor('')]).toEqual([3, 4, undefined, undefined]);
    // Release --labels (the kit's mark, checked before destroy-all uninstalls anything) came with helm 3.13.
    expect([helmMajor('v3.12.3'), helmMajor('v3.13.0')]).toEqual([undefined, 3]);
  });

  it('parses `helm list -o json` of helm 3 (revision as a string) and of an empty namespace', () => {
    expect(
      parseReleases('[{"name":"dapr","namespace":"dapr-system","revision":"2","status":"deployed","chart":"dapr-1.18.3","app_version":"1.18.3"}]')[0]!.revision,
    ).toBe(2);
    expect(parseReleases('[]')).toEqual([]);
    expect(parseReleases('null')).toEqual([]);
  });

  it('lists with explicit state flags (helm 4 has no --all) and passes --kube-context', async () => {
    const exec = fakeExec(on(['list'], { stdout: '[]' }));
    expect(await new Helm(exec, 'kind-dev').release('dapr', 'dapr-system')).toBeUndefined();
    expect(exec.calls[0]!.line).toBe("helm --kube-context kind-dev list --namespace dapr-system --deployed --failed --pending --filter '^dapr$' --output json");
  });

  it('tells its caller before each change, with the namespace it changes; reads tell nothing', async () => {
    const seen: (string | undefined)[] = [];
    const exec = fakeExec(on(['upgrade'], { stdout: '' }), on(['uninstall'], { stdout: '' }), on(['list'], { stdout: '[]' }));
    const helm = new Helm(exec, undefined, (ns) => seen.push(ns));
    await helm.release('dapr', 'dapr-system');
    await helm.upgradeInstall({ release: 'dapr', namespace: 'dapr-system', chart: { kind: 'local', path: '/c' } });
    await helm.uninstall('dapr', 'other');
    expect(seen).toEqual(['dapr-system', 'other']);
  });

  it('shows the pasteable command in --dry-run form', () => {
    const s = settingsFor({});
    expect(helmCommandLine(s)).toBe(
      `helm upgrade --install dapr dapr --repo ${V.repo} --version ${V.version} --namespace dapr-system --create-namespace --values ${s.valuesPath} --labels learnflow.dev/managed-by=learnflow-kit`,
    );
  });
});

function settingsFor(flags: Record<string, unknown>, ns = 'learnflow'): DaprSettings {
  const config = buildConfig({ values: { namespace: ns, 'dapr-version': V.version, ...flags } as never, given: new Set(), positionals: [] });
  return daprSettings({ config, root: REPO_ROOT } as never);
}

describe('chart choice', () => {
  it('uses the pinned version from the official repository by default, and --dapr-version', () => {
    expect(chooseChart('1.17.0', undefined, REPO_ROOT)).toMatchObject({ ref: { kind: 'repo', version: '1.17.0' }, chartLabel: 'dapr-1.17.0', setString: {} });
  });
  it('refuses a directory without Chart.yaml with a usage error that says what to point at', () => {
    expect(() => chooseChart('1.18.3', CHART_DIR, REPO_ROOT)).toThrow(/no Chart\.yaml/);
  });
});

describe('the no-op decision', () => {
  const values = desiredValues(loadValues(path.join(REPO_ROOT, VALUES_FILE)), { 'global.tag': '1.18.3' });
  const rel = { name: 'dapr', namespace: 'dapr-system', revision: 1, status: 'deployed', chart: 'dapr-0.0.0' };
  it('skips only a deployed release of the same chart with the same values', () => {
    expect(releaseUpToDate(rel, 'dapr-0.0.0', JSON.parse(JSON.stringify(values)), values).upToDate).toBe(true);
    expect(releaseUpToDate(undefined, 'dapr-0.0.0', undefined, values)).toEqual({ upToDate: false, why: 'not installed' });
    expect(releaseUpToDate({ ...rel, status: 'failed' }, 'dapr-0.0.0', values, values).why).toBe('release is failed');
    expect(releaseUpToDate({ ...rel, chart: 'dapr-1.17.0' }, 'dapr-1.18.3', values, values).why).toMatch(/chart dapr-1\.17\.0 installed/);
    const other = desiredValues(values, { 'global.tag': '1.18.2' });
    expect(releaseUpToDate(rel, 'dapr-0.0.0', other, values).why).toMatch(/values differ/);
  });
});

// ------------------------------------------------------------------------------------------- orchestration

function stepFor(exec: ReturnType<typeof fakeExec>, flags: Record<string, unknown> = {}, budgetMs = 300_000) {
  return fakeStep(exec, { values: { 'dapr-version': V.version, 'consumer-group': 'learnflow-consumers', 'tracing-sampling-rate': '1', ...flags }, budgetMs });
}

const deployment = (name: string, ready: number, replicas = 1) => ({
  kind: 'Deployment',
  metadata: { name, generation: 1 },
  spec: { replicas },
  status: { observedGeneration: 1, replicas, readyReplicas: ready, updatedReplicas: replicas },
});
const statefulset = (name: string, ready: number, replicas = 1) => ({ ...deployment(name, ready, replicas), kind: 'StatefulSet' });
const readyControlPlane = () => [
  deployment('dapr-operator', 1),
  deployment('dapr-sentry', 1),
  deployment('dapr-sidecar-injector', 1),
  statefulset('dapr-placement-server', 1),
  statefulset('dapr-scheduler-server', 3, 3),
];
const controlPlaneReply = (items: unknown[]): FakeHandler =>
  on(['get', 'deployment,statefulset,pod', '-n', 'dapr-system'], { stdout: JSON.stringify({ items }) });

describe('installControlPlane', () => {
  const released = (chart: string, status = 'deployed') =>
    on(['list'], { stdout: JSON.stringify([{ name: 'dapr', namespace: 'dapr-system', revision: '3', status, chart, app_version: '1.18.3' }]) });

  it('runs no upgrade when the release is deployed at the chart with the same values', async () => {
    const s = settingsFor({});
    const exec = fakeExec(released(`dapr-${V.version}`), on(['get', 'values'], { stdout: JSON.stringify(loadValues(s.valuesPath)) }));
    const step = stepFor(exec);
    expect(await installControlPlane(step, s)).toBe('unchanged');
    expect(exec.calls.map((c) => c.args[0])).toEqual(['list', 'get']);
    expect(step.changes).toEqual({ 'helm release dapr': 'unchanged' });
  });

  it('installs when absent, with the remaining budget as helm timeout', async () => {
    const s = settingsFor({});
    const exec = fakeExec(on(['list'], { stdout: '[]' }), on(['upgrade', '--install'], { stdout: '' }));
    const step = stepFor(exec, {}, 200_000);
    expect(await installControlPlane(step, s)).toBe('created');
    expect(exec.calls.at(-1)!.args).toEqual(expect.arrayContaining(['--timeout', '3m20s', '--version', V.version]));
    expect(exec.calls.some((c) => c.args.includes('crds'))).toBe(false); // helm installs crds/ itself the first time
  });

  it("lists no release when the run's snapshot shows no dapr-system namespace (helm keeps releases there), else asks helm", async () => {
    const s = settingsFor({});
    const namespaces = (names: string[]) =>
      on(['get', 'namespaces'], { stdout: JSON.stringify({ kind: 'List', items: names.map((name) => ({ kind: 'Namespace', metadata: { name } })) }) });
    const first = fakeExec(namespaces(['default']), on(['upgrade', '--install'], { stdout: '' }));
    const step = stepFor(first);
    await step.kube.takeSnapshot({ everywhere: ['Namespace'], namespaced: [] });
    expect(await installControlPlane(step, s)).toBe('created');
    expect(first.calls.map((c) => `${c.cmd} ${c.args[0]}`)).toEqual(['kubectl get', 'helm upgrade']);

    const again = fakeExec(namespaces(['default', 'dapr-system']), on(['list'], { stdout: '[]' }), on(['upgrade', '--install'], { stdout: '' }));
    const step2 = stepFor(again);
    await step2.kube.takeSnapshot({ everywhere: ['Namespace'], namespaced: [] });
    await installControlPlane(step2, s);
    expect(again.calls.map((c) => `${c.cmd} ${c.args[0]}`)).toEqual(['kubectl get', 'helm list', 'helm upgrade']);
  });

  it('upgrades a different version and brings its CRDs first (helm never upgrades crds/)', async () => {
    const s = settingsFor({ 'dapr-version': '1.18.4' });
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'components.dapr.io', resourceVersion: '2' } };
    const exec = fakeExec(
      released(`dapr-${V.version}`),
      on(['get', 'values'], { stdout: '{}' }),
      on(['show', 'crds'], { stdout: `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: components.dapr.io\n` }),
      on(['get', '-f', '-'], { stdout: JSON.stringify({ ...crd, metadata: { ...crd.metadata, resourceVersion: '1' } }) }),
      on(['apply', '--server-side'], { stdout: JSON.stringify(crd) }),
      on(['upgrade', '--install'], { stdout: '' }),
      on(['get', 'namespace'], {
        stdout: JSON.stringify({
          items: ['learnflow', 'team-b'].map((name) => ({ kind: 'Namespace', metadata: { name, labels: { 'learnflow.dev/stack': name } } })),
        }),
      }),
    );
    const step = stepFor(exec);
    expect(await installControlPlane(step, s)).toBe('configured');
    // The control plane is every stack's: the upgrade names the others it changes.
    expect(step.log.lines.join('\n')).toMatch(/the Dapr control plane is shared: this upgrade changes it for the stacks in team-b too/);
    const order = exec.calls.map((c) => `${c.cmd} ${c.args.slice(0, 2).join(' ')}`);
    expect(order.indexOf('helm show crds')).toBeLessThan(order.indexOf('helm upgrade --install'));
    expect(exec.calls.find((c) => c.args[0] === 'show')!.args).toEqual(['show', 'crds', 'dapr', '--repo', V.repo, '--version', '1.18.4']);
    expect(step.changes).toMatchObject({ 'customresourcedefinition/components.dapr.io': 'configured', 'helm release dapr': 'configured' });
  });

  it('clears an install that an interrupted run left pending, then installs', async () => {
    const s = settingsFor({});
    let listed = 0;
    const exec = fakeExec(
      on(['list'], () => ({
        stdout:
          listed++ === 0 ? JSON.stringify([{ name: 'dapr', namespace: 'dapr-system', revision: 1, status: 'pending-install', chart: 'dapr-1.18.3' }]) : '[]',
      })),
      on(['get', 'values'], { stdout: '{}' }),
      on(['uninstall'], { stdout: '' }),
      on(['upgrade', '--install'], { stdout: '' }),
    );
    const step = stepFor(exec);
    expect(await installControlPlane(step, s)).toBe('created');
    // The values of the interrupted release are read first: they hold the shared settings it was asked for.
    expect(exec.calls.map((c) => c.args[0])).toEqual(['list', 'get', 'uninstall', 'upgrade']);
    expect(step.log.lines.join('\n')).toMatch(/pending-install: an earlier helm run was interrupted/);
  });

  it('rolls back an interrupted upgrade before upgrading again', async () => {
    const s = settingsFor({});
    let listed = 0;
    const exec = fakeExec(
      on(['list'], () => ({
        stdout: JSON.stringify([
          { name: 'dapr', namespace: 'dapr-system', revision: 4, status: listed++ === 0 ? 'pending-upgrade' : 'deployed', chart: 'dapr-1.18.2' },
        ]),
      })),
      on(['rollback'], { stdout: '' }),
      on(['get', 'values'], { stdout: '{}' }),
      on(['get', 'namespace'], { stdout: JSON.stringify({ items: [] }) }),
      on(['show', 'crds'], { stdout: '' }),
      on(['upgrade', '--install'], { stdout: '' }),
    );
    expect(await installControlPlane(stepFor(exec), s)).toBe('configured');
    expect(exec.calls.map((c) => `${c.cmd} ${c.args[0]}`)).toEqual([
      'helm list',
      'helm get',
      'helm rollback',
      'helm list',
      'helm get',
      'kubectl get',
      'helm show',
      'helm upgrade',
    ]);
  });
});

describe('a version change of the control plane', () => {
  const at = (chart: string, values: Record<string, unknown> = {}) => [
    on(['list'], { stdout: JSON.stringify([{ name: 'dapr', namespace: 'dapr-system', revision: '2', status: 'deployed', chart, app_version: '0.0.0' }]) }),
    on(['get', 'values'], { stdout: JSON.stringify(values) }),
  ];

  it('reads the running version from global.tag (a chart from the dapr/dapr sources says 0.0.0), else from the chart', () => {
    const release = { name: 'dapr', namespace: 'dapr-system', revision: 1, status: 'deployed' };
    expect(liveDaprVersion({ release: { ...release, chart: 'dapr-0.0.0', app_version: '0.0.0' }, values: { global: { tag: '1.17.5' } } })).toBe('1.17.5');
    expect(liveDaprVersion({ release: { ...release, chart: 'dapr-1.17.5', app_version: '1.17.5' }, values: {} })).toBe('1.17.5');
    expect(liveDaprVersion({ release: { ...release, chart: 'dapr-0.0.0', app_version: '0.0.0' }, values: { global: { tag: 'edge' } } })).toBeUndefined();
    expect(liveDaprVersion({})).toBeUndefined();
  });

  it('says the upgrade it runs, how long it took, and that running apps keep their sidecars until restarted', async () => {
    const s = settingsFor({});
    const exec = fakeExec(
      ...at('dapr-1.17.5'),
      on(['get', 'namespace'], { stdout: JSON.stringify({ items: [] }) }),
      on(['show', 'crds'], { stdout: '' }),
      on(['upgrade', '--install'], { stdout: '' }),
    );
    const step = stepFor(exec);
    expect(await installControlPlane(step, s)).toBe('configured');
    const log = step.log.lines.join('\n');
    expect(log).toContain(`upgrading dapr 1.17.5 -> ${V.version}`);
    expect(log).toMatch(new RegExp(`helm release dapr upgraded \\(dapr 1\\.17\\.5 -> ${V.version.replace(/\./g, '\\.')}\\) in \\d+\\.\\ds`));
    expect(log).toContain('running Dapr apps keep their 1.17.5 sidecars until restarted: kubectl rollout restart deployment -n learnflow');
  });

  it('refuses 1.18 -> below 1.17.7 before any change (that sentry cannot read the trust bundle), naming the way through', async () => {
    expect(() => refuseUnsafeDowngrade('1.18.3', '1.17.5')).toThrow(/refusing dapr 1\.18\.3 -> 1\.17\.5: .*Ed25519/);
    expect(() => refuseUnsafeDowngrade('1.18.3', '1.17.7')).not.toThrow();
    expect(() => refuseUnsafeDowngrade('1.17.5', '1.18.3')).not.toThrow();
    expect(() => refuseUnsafeDowngrade(undefined, '1.16.0')).not.toThrow();
    const s = settingsFor({ 'dapr-version': '1.17.5' });
    const exec = fakeExec(...at(`dapr-${V.version}`));
    const err = await installControlPlane(stepFor(exec, { 'dapr-version': '1.17.5' }), s).catch((e: unknown) => e as { fix?: string });
    expect(err).toMatchObject({ fix: expect.stringContaining('./scripts/install-dapr.mts --dapr-version 1.17.7') });
    expect(exec.calls.map((c) => `${c.cmd} ${c.args[0]}`)).toEqual(['helm list', 'helm get']);
  });

  it('--diff names the versions first, and a downgrade it would refuse', async () => {
    const s = settingsFor({ 'dapr-chart': undefined });
    const changes = await controlPlaneChanges(stepFor(fakeExec(...at('dapr-0.0.0', { global: { tag: '1.17.5' } }))), s);
    expect(changes[0]).toBe(`dapr 1.17.5 -> ${V.version}: the chart's CRDs applied, then helm upgrade; running apps keep their sidecars until restarted`);
    const back = await controlPlaneChanges(stepFor(fakeExec(...at(`dapr-${V.version}`))), settingsFor({ 'dapr-version': '1.17.5' }));
    expect(back[0]).toMatch(new RegExp(`^dapr ${V.version.replace(/\./g, '\\.')} -> 1\\.17\\.5: would be refused \\(Dapr 1\\.18 keeps an Ed25519 CA`));
  });
});

describe("the control plane's settings are the cluster's, read from its live release", () => {
  const releaseWith = (values: object, status = 'deployed') =>
    fakeExec(
      on(['list'], { stdout: JSON.stringify([{ name: 'dapr', namespace: 'dapr-system', revision: 1, status, chart: `dapr-${V.version}` }]) }),
      on(['get', 'values'], { stdout: JSON.stringify(values) }),
    );
  const schedulerOff = () => desiredValues(loadValues(path.join(REPO_ROOT, VALUES_FILE)), { 'global.scheduler.enabled': false });

  it('a release installed with --no-scheduler keeps it off for a run without flags, even one whose install failed', async () => {
    for (const status of ['deployed', 'failed']) {
      const step = stepFor(releaseWith(schedulerOff(), status));
      const live = liveSettings(await liveControlPlane(step));
      expect(live).toEqual({ scheduler: false });
      const s = daprSettings(step, {}, live);
      expect(s.scheduler).toBe(false);
      expect(s.schedulerWhy).toBe('the Dapr scheduler off, as deployed (--scheduler changes it)');
    }
  });

  it('a flag still changes it; no release: on by default; the release is read once per run', async () => {
    const exec = releaseWith(schedulerOff());
    const step = stepFor(exec, { scheduler: true });
    const live = liveSettings(await liveControlPlane(step));
    await liveControlPlane(step);
    expect(exec.calls).toHaveLength(2); // helm list, helm get values: once
    expect(daprSettings(step, {}, live).scheduler).toBe(true);
    expect(liveSettings({})).toEqual({});
    expect(daprSettings(step, {}, {}).scheduler).toBe(true);
    expect(liveSettings({ values: {} })).toEqual({ scheduler: true });
  });

  it('a deploy in another namespace without flags leaves the release as it is: no helm upgrade', async () => {
    const exec = releaseWith(schedulerOff());
    const step = fakeStep(exec, { values: { namespace: 'team-b', 'dapr-version': V.version, 'consumer-group': 'g', 'tracing-sampling-rate': '1' } });
    const s = daprSettings(step, {}, liveSettings(await liveControlPlane(step)));
    expect(await installControlPlane(step, s)).toBe('unchanged');
    expect(exec.calls.map((c) => c.args[0])).toEqual(['list', 'get']);
  });
});

describe('control-plane wait', () => {
  it('reads all five workloads with one kubectl call', () => {
    const { states } = controlPlaneStates(readyControlPlane() as never);
    expect(states.map((s) => [s.ref.name, s.ready])).toEqual([
      ['dapr-operator', true],
      ['dapr-sentry', true],
      ['dapr-sidecar-injector', true],
      ['dapr-placement-server', true],
      ['dapr-scheduler-server', true],
    ]);
    expect(controlPlaneStates([]).states.every((s) => s.state.endsWith('not found'))).toBe(true);
  });

  it('stops at once on a pull that will not heal, naming the pod, the reason and every workload not ready', async () => {
    const items = [
      ...readyControlPlane().slice(0, 4),
      statefulset('dapr-scheduler-server', 2, 3),
      {
        kind: 'Pod',
        metadata: { name: 'dapr-scheduler-server-2', namespace: 'dapr-system', labels: { app: 'dapr-scheduler-server' } },
        status: {
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'dapr-scheduler-server',
              ready: false,
              image: 'ghcr.io/dapr/scheduler:9.9.9',
              state: { waiting: { reason: 'ImagePullBackOff', message: 'manifest unknown' } },
            },
          ],
        },
      },
    ];
    const exec = fakeExec(controlPlaneReply(items));
    const step = stepFor(exec);
    const err = await waitForControlPlane(step).catch((e: Error & { fix?: string }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /pod dapr-scheduler-server-2 is container dapr-scheduler-server: ImagePullBackOff \(manifest unknown\); not ready: dapr-scheduler-server 2\/3 ready/,
    );
    expect((err as { fix?: string }).fix).toMatch(/-n dapr-system/);
    expect(exec.calls).toHaveLength(1);
  });

  it('names each workload still not ready when the budget runs out', async () => {
    const items = readyControlPlane().map((w) =>
      w.metadata.name === 'dapr-sentry' || w.metadata.name === 'dapr-operator' ? { ...w, status: { ...w.status, readyReplicas: 0 } } : w,
    );
    const step = stepFor(fakeExec(controlPlaneReply(items)), {}, 10_000);
    await expect(waitForControlPlane(step)).rejects.toThrow(
      /timed out .* last state: not ready: dapr-operator 0\/1 ready, 1\/1 updated; dapr-sentry 0\/1 ready/,
    );
  });
});

describe('dependency gate', () => {
  it("sees the statefulsets of Kafka and PostgreSQL (the registry's readiness of Dapr's dependsOn) and their pods", () => {
    const deps = workloadStates([statefulset('postgresql', 1)] as never, dependenciesOf([COMPONENTS.kafka, COMPONENTS.postgres])).states;
    expect(deps.map((d) => ({ name: d.ref.name, title: d.ref.title, present: d.present, ready: d.ready, state: d.state }))).toEqual([
      { name: 'kafka', title: 'Kafka', present: false, ready: false, state: 'statefulset/kafka not found' },
      { name: 'postgresql', title: 'PostgreSQL', present: true, ready: true, state: '1/1 ready, 1/1 updated' },
    ]);
  });

  it('refuses before any change when Kafka is not deployed: no helm call at all', async () => {
    const exec = fakeExec(
      on(['version', '-o', 'json'], { stdout: JSON.stringify({ serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } }) }),
      on(['version', '--template'], { stdout: 'v4.1.4' }),
      on(['get', 'statefulset,pod'], { stdout: JSON.stringify({ items: [statefulset('postgresql', 1)] }) }),
      NOTHING_REMEMBERED,
    );
    const err = (await dapr.deploy(stepFor(exec)).catch((e: unknown) => e)) as Error & { fix?: string; exitCode?: number };
    expect(err.message).toMatch(
      /^refusing to apply the Dapr components: Kafka is not deployed in learnflow\. A sidecar whose component cannot initialise exits/,
    );
    expect(err.fix).toMatch(/deploy-kafka\.mts --namespace learnflow.*--control-plane-only/);
    expect(err.exitCode).toBe(1);
    expect(exec.calls.filter((c) => c.cmd === 'helm').map((c) => c.args[0])).toEqual(['version']);
  });

  it('stops waiting at once when a dependency pod crash-loops', async () => {
    const crash = {
      kind: 'Pod',
      metadata: { name: 'kafka-0', namespace: 'learnflow', labels: { 'app.kubernetes.io/name': 'kafka' } },
      status: { phase: 'Running', containerStatuses: [{ name: 'kafka', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } }] },
    };
    const s = settingsFor({});
    const exec = fakeExec(
      on(['list'], { stdout: JSON.stringify([{ name: 'dapr', namespace: 'dapr-system', revision: 1, status: 'deployed', chart: `dapr-${V.version}` }]) }),
      on(['get', 'values'], { stdout: JSON.stringify(loadValues(s.valuesPath)) }),
      controlPlaneReply(readyControlPlane()),
      on(['get', 'statefulset,pod'], { stdout: JSON.stringify({ items: [statefulset('kafka', 0), crash, statefulset('postgresql', 1)] }) }),
      NOTHING_REMEMBERED,
    );
    const step = stepFor(exec);
    step.preflighted = true;
    await expect(dapr.deploy(step)).rejects.toThrow(
      /refusing to apply the Dapr components: Kafka is not ready \(0\/1 ready, 1\/1 updated \(kafka-0: container kafka: CrashLoopBackOff, 4 restarts\)\)/,
    );
    expect(exec.calls.some((c) => c.args.includes('apply'))).toBe(false);
  });
});

/** A first install: no settings remembered from an earlier one. */
const NOTHING_REMEMBERED = on(['get', 'configmap', 'learnflow-settings-dapr'], { stdout: '' });

describe('install-dapr --dry-run', () => {
  it("prints the plan (stderr) and a clean YAML stream (stdout) with no cluster and no secret; the chart's objects via helm template", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const chartYaml = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dapr-operator\n  namespace: dapr-system\n';
    // Only `helm template` may run (no cluster is contacted); anything else fails the test.
    const exec = fakeExec((args, cmd) => (cmd === 'helm' && args[0] === 'template' ? { stdout: chartYaml } : undefined));
    const argv = [
      '--dry-run',
      '--with-redis',
      '--zipkin-endpoint',
      'http://zipkin.learnflow.svc.cluster.local:9411/api/v2/spans',
      '--tracing-sampling-rate',
      '0.5',
    ];
    const code = await main(installDaprScript(), argv, {}, { stdout: (t) => out.push(t), stderr: (l) => err.push(l), clock: fakeClock(), exec, tty: false });
    const text = out.join('');
    const log = err.join('\n');
    expect(code).toBe(0);
    expect(exec.calls.map((c) => c.args[0])).toEqual(['template']);
    expect(exec.calls[0]!.args).toEqual(expect.arrayContaining(['--include-crds', '--values']));
    expect(log).toContain(`helm upgrade --install dapr dapr --repo ${V.repo} --version ${V.version} --namespace dapr-system --create-namespace --values`);
    expect(text).toMatch(/kind: Component\s+metadata:\s+name: statestore-redis/);
    expect(text).toContain('samplingRate: "0.5"');
    expect(text).toContain(`connectionString: ${SECRET_PLACEHOLDER}`);
    expect(text).not.toMatch(/password=|requirepass [^<]/);
    expect(text).toContain('name: dapr-operator');
    // A YAML stream: every document parses on its own, no helm values glued onto the last object.
    const docs = parseAllDocuments(text);
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    expect(docs.map((d) => (d.toJS() as { kind: string }).kind)).toEqual(
      expect.arrayContaining(['Secret', 'Component', 'Configuration', 'Resiliency', 'StatefulSet', 'Deployment']),
    );
    expect(text).not.toContain('sidecarDropALLCapabilities');
  });

  it("renders the chart with the values an install would pass: --no-scheduler's too", async () => {
    const exec = fakeExec((args, cmd) => (cmd === 'helm' && args[0] === 'template' ? { stdout: '' } : undefined));
    const run = (argv: string[]) =>
      main(installDaprScript(), ['--dry-run', ...argv], {}, { stdout: () => {}, stderr: () => {}, clock: fakeClock(), exec, tty: false });
    expect(await run(['--no-scheduler'])).toBe(0);
    expect(exec.calls.at(-1)!.args.join(' ')).toContain('--set global.scheduler.enabled=false');
    expect(await run([])).toBe(0);
    expect(exec.calls.at(-1)!.args.join(' ')).not.toContain('global.scheduler.enabled');
  });

  it("without helm, says the chart's objects are not shown and still prints the kit's own", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const exec = fakeExec((_args, cmd) => (cmd === 'helm' ? { exitCode: 127, stderr: 'helm: not found' } : undefined));
    const code = await main(
      installDaprScript(),
      ['--dry-run'],
      {},
      { stdout: (t) => out.push(t), stderr: (l) => err.push(l), clock: fakeClock(), exec, tty: false },
    );
    expect(code).toBe(0);
    expect(err.join('\n')).toMatch(/the Dapr chart's objects .*: not shown \(/);
    expect(out.join('')).toContain('kind: Component');
  });

  it('plans nothing for Dapr in a --no-cluster deploy-all', async () => {
    const config = buildConfig({ values: { namespace: 'learnflow', 'no-cluster': true }, given: new Set(), positionals: [] });
    expect(await dapr.plan({ config, root: REPO_ROOT } as never)).toEqual({ actions: [expect.stringMatching(/--no-cluster/)], manifests: [] });
  });

  it('declares what preflight and scripts/images.mts need', () => {
    expect(dapr.extraNamespaces).toEqual(['dapr-system']);
    const ctxWith = (values: Record<string, unknown>) =>
      ({ root: REPO_ROOT, config: buildConfig({ values: values as never, given: new Set(), positionals: [] }) }) as never;
    expect(dapr.extraRequests!(ctxWith({}))).toEqual({ cpuMillis: 350, memoryBytes: 352 * 1024 ** 2 });
    // Without the scheduler's 3 x 50m/64Mi.
    expect(dapr.extraRequests!(ctxWith({ 'no-scheduler': true }))).toEqual({ cpuMillis: 200, memoryBytes: 160 * 1024 ** 2 });
    const images = (values: Record<string, unknown>) => dapr.images!(ctxWith(values)).map((i) => (typeof i === 'string' ? i : i.image));
    expect(images({})).toEqual([
      ...['operator', 'placement', 'sentry', 'injector', 'scheduler', 'daprd'].map((n) => expect.stringMatching(new RegExp(`/${n}:`))),
      expect.stringMatching(/^curlimages\/curl:/),
    ]);
    expect(images({ 'no-scheduler': true })).not.toContainEqual(expect.stringMatching(/\/scheduler:/));
  });
});
