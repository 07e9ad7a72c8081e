// scripts/images.mts: the image list comes from the rendered manifests, the components' declared extras and the
// Dapr chart (the chart's image names are checked against the real chart in test/integration/dapr-chart-values.test.ts).

import { DAPR_DEFAULT_REGISTRY, daprChartImages, daprRegistry } from '../../scripts/lib/components/dapr/values.js';
import { describe, expect, it } from 'vitest';
import { COMPONENTS } from '../../scripts/lib/components/index.js';
import type { Component } from '../../scripts/lib/components/types.js';
import { createCtx } from '../../scripts/lib/run/context.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { collectImages, dedupe, imagesScript, manifestImages } from '../../scripts/lib/tools/images.js';
import { preloadCommands } from '../../scripts/lib/tools/images/target.js';
import { memoryLogger, SecretRegistry } from '../../scripts/lib/core/log.js';
import { type Manifest } from '../../scripts/lib/kube/manifests.js';
import { readVersions, REPO_ROOT } from '../../scripts/lib/core/repo.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { main } from '../../scripts/lib/cli/run.js';
import { fakeClock, fakeExec, on } from '../support/fakes.js';

const ctx = () =>
  createCtx({
    config: buildConfig({ values: { namespace: 'learnflow' }, given: new Set(), positionals: [] }),
    log: memoryLogger(),
    exec: fakeExec(),
    clock: fakeClock(),
    secrets: new SecretRegistry(),
    signal: new AbortController().signal,
  });

const sts = (name: string, image: string, init?: string): Manifest => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name },
  spec: { template: { spec: { containers: [{ name: 'main', image }], ...(init ? { initContainers: [{ name: 'init', image: init }] } : {}) } } },
});

describe('manifestImages', () => {
  it('finds containers and init containers in pod templates at any depth (CronJob included)', () => {
    const cron: Manifest = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly' },
      spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } } } } },
    };
    expect(
      manifestImages([sts('db', 'postgres:17.6', 'busybox:1.37'), cron, { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }], 'postgres'),
    ).toEqual([
      { image: 'busybox:1.37', component: 'postgres', source: 'StatefulSet/db (init init)' },
      { image: 'postgres:17.6', component: 'postgres', source: 'StatefulSet/db' },
      { image: 'busybox:1.37', component: 'postgres', source: 'CronJob/nightly' },
    ]);
  });

  it("lists each image once, sources merged, in component order (the registry's, as given)", () => {
    const refs = dedupe(
      [
        { image: 'b:1', component: 'dapr', source: 'x' },
        { image: 'a:1', component: 'postgres', source: 'y' },
        { image: 'b:1', component: 'dapr', source: 'z' },
        { image: 'k:1', component: 'kafka', source: 'w' },
      ],
      ['kafka', 'postgres', 'dapr'],
    );
    expect(refs).toEqual([
      { image: 'k:1', component: 'kafka', source: 'w' },
      { image: 'a:1', component: 'postgres', source: 'y' },
      { image: 'b:1', component: 'dapr', source: 'x; z' },
    ]);
  });
});

describe('the Dapr chart images', () => {
  it('are the pinned version of operator, placement, sentry, injector, scheduler and daprd', () => {
    const v = readVersions().dapr.version;
    expect(daprChartImages(v).map((i) => i.image)).toEqual(
      ['operator', 'placement', 'sentry', 'injector', 'scheduler', 'daprd'].map((n) => `${DAPR_DEFAULT_REGISTRY}/${n}:${v}`),
    );
    // install-dapr --no-scheduler pulls no scheduler image.
    expect(daprChartImages(v, DAPR_DEFAULT_REGISTRY, { scheduler: false }).map((i) => i.image)).not.toContain(`${DAPR_DEFAULT_REGISTRY}/scheduler:${v}`);
    expect(daprRegistry(REPO_ROOT)).toBe(DAPR_DEFAULT_REGISTRY);
  });
});

describe('collectImages', () => {
  it('renders every component and adds what a component declares besides (the Dapr chart through its hook)', async () => {
    const extra: Component = {
      ...COMPONENTS.postgres!,
      name: 'extra',
      title: 'Extra',
      plan: async () => ({ actions: [], manifests: [] }),
      images: () => ['curlimages/curl:8.11.1', { image: 'example/chart-image:1', source: 'a chart' }],
    };
    const { images, checks } = await collectImages(ctx(), [COMPONENTS.postgres!, extra, COMPONENTS.dapr!]);
    const names = images.map((i) => i.image);
    expect(names).toContain(`${readVersions().postgres.image}:${readVersions().postgres.version}`);
    expect(names).toContain('curlimages/curl:8.11.1');
    expect(images.find((i) => i.image === 'example/chart-image:1')).toEqual({ image: 'example/chart-image:1', component: 'extra', source: 'a chart' });
    expect(names).toContain(`${DAPR_DEFAULT_REGISTRY}/daprd:${readVersions().dapr.version}`);
    expect(new Set(names).size).toBe(names.length);
    expect(checks.every((c) => c.ok)).toBe(true);
  });

  it('includes the pinned image of every component the stack runs', async () => {
    const { images } = await collectImages(ctx(), Object.values(COMPONENTS));
    const v = readVersions();
    const names = images.map((i) => i.image);
    for (const name of Object.keys(COMPONENTS)) {
      if (name === 'kafka') expect(names).toContain(`${v.kafka.image}:${v.kafka.version}`);
      if (name === 'postgres') expect(names).toContain(`${v.postgres.image}:${v.postgres.version}`);
    }
  });

  it('reports a component that cannot be rendered instead of crashing', async () => {
    const broken: Component = {
      ...COMPONENTS.postgres!,
      name: 'kafka',
      title: 'Broken',
      plan: async () => Promise.reject(new Error('k8s/kafka/statefulset.yaml: no value for {{ x }}')),
    };
    const { checks } = await collectImages(ctx(), [broken]);
    expect(checks).toEqual([{ name: 'kafka', ok: false, detail: expect.stringMatching(/could not render its manifests: .*no value/) }]);
  });
});

describe('images.mts', () => {
  it('prints pre-load commands per cluster kind', () => {
    const imgs = ['postgres:17.6', 'apache/kafka:4.3.1'];
    expect(preloadCommands(imgs, 'kind', 'learnflow')).toEqual([
      'for i in postgres:17.6 apache/kafka:4.3.1; do docker pull "$i"; done',
      'kind load docker-image postgres:17.6 apache/kafka:4.3.1 --name learnflow',
    ]);
    expect(preloadCommands(imgs, 'minikube')[1]).toBe('minikube image load postgres:17.6 apache/kafka:4.3.1');
    expect(preloadCommands(imgs, 'k3d')[1]).toBe('k3d image import postgres:17.6 apache/kafka:4.3.1 -c k3s-default');
    expect(preloadCommands(imgs, 'docker-desktop')).toHaveLength(1);
    expect(preloadCommands(imgs, 'kind', 'learnflow', 'arm64').slice(1)).toEqual([
      'docker image save --platform linux/arm64 -o learnflow-images-arm64.tar postgres:17.6 apache/kafka:4.3.1',
      'kind load image-archive learnflow-images-arm64.tar --name learnflow',
    ]);
  });

  it('--json puts the list in .data.images, --names prints only names; only docker info is asked (for the kind commands)', async () => {
    const run = async (argv: string[]) => {
      const out: string[] = [];
      const exec = fakeExec(on(['info', '--format'], { stdout: JSON.stringify({ Driver: 'overlay2', DriverStatus: [], Architecture: 'x86_64' }) }));
      const code = await main(
        imagesScript([COMPONENTS.postgres!]),
        argv,
        {},
        { stdout: (t) => out.push(t), stderr: () => {}, clock: fakeClock(), exec, tty: false },
      );
      return { code, out: out.join(''), calls: exec.calls.map((c) => c.line) };
    };
    const json = await run(['--json']);
    expect(json.code).toBe(0);
    expect(json.calls).toEqual(["docker info --format '{{json .}}'"]);
    const report = JSON.parse(json.out) as Report & { data: { images: { image: string }[]; preload: Record<string, string[]> } };
    expect(report.data.images.map((i) => i.image)).toContain(`postgres:${readVersions().postgres.version}`);
    expect(Object.keys(report.data.preload)).toEqual(['minikube', 'kind', 'k3d', 'docker-desktop']);
    const names = await run(['--names']);
    expect(names.calls).toEqual([]);
    expect(names.out.trim().split('\n')).toEqual(report.data.images.map((i) => i.image));
    const human = await run(['--for', 'kind', '--cluster-name', 'learnflow']);
    expect(human.out).toMatch(/# pre-load for kind/);
    expect(human.out).not.toMatch(/# pre-load for minikube/);
    expect(human.out).toMatch(/^kind load docker-image .* --name learnflow$/m);
    expect((await run(['--for', 'minikube'])).calls).toEqual([]);
  });
});
