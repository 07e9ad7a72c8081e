// The kit's chart values as the REAL pinned Dapr chart renders them (helm template, no cluster): the scheduler's
// etcd gets the quota, compaction and snapshot settings the kit chose, no control-plane container has a memory
// limit (Dapr's production guidance), and the scheduler is 3 replicas whatever the values say.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { VALUES_FILE } from '../../scripts/lib/components/dapr/settings.js';
import { CONTROL_PLANE, DAPR_CHART_IMAGES, DAPR_DEFAULT_REGISTRY } from '../../scripts/lib/components/dapr/values.js';
import { readVersions, REPO_ROOT } from '../../scripts/lib/core/repo.js';
import { CACHE_BIN, PINNED_DAPR_CHART } from '../support/paths.js';

const VERSION = readVersions().dapr.version;
const CHART = PINNED_DAPR_CHART;
const HELM = path.join(CACHE_BIN, 'helm');

let objects: any[];
const workload = (name: string) => objects.find((o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === name);

beforeAll(() => {
  for (const f of [path.join(CHART, 'Chart.yaml'), HELM]) if (!existsSync(f)) throw new Error(`${f} is missing: run bash test/substrate/provision-kube.sh`);
  const r = spawnSync(
    HELM,
    ['template', 'dapr', CHART, '-n', 'dapr-system', '-f', path.join(REPO_ROOT, VALUES_FILE), '--set-string', `global.tag=${VERSION}`],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  objects = parseAllDocuments(r.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
});

describe(`the Dapr ${VERSION} chart with k8s/dapr/values.yaml`, () => {
  it('gives the scheduler an etcd that compacts and stays below its volume', () => {
    const sts = workload('dapr-scheduler-server');
    const args: string[] = sts.spec.template.spec.containers[0].args;
    expect(args).toEqual(
      expect.arrayContaining([
        '--etcd-space-quota=1Gi',
        '--etcd-compaction-mode=periodic',
        '--etcd-compaction-retention=10m',
        '--etcd-max-snapshots=3',
        '--etcd-max-wals=3',
      ]),
    );
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('2Gi');
  });

  it('runs the scheduler with 3 replicas, as the kit counts it', () => {
    expect(workload('dapr-scheduler-server').spec.replicas).toBe(CONTROL_PLANE.find((w) => w.name === 'dapr-scheduler-server')!.replicas);
  });

  it('sets no memory limit on any control-plane container, and the requests the kit counts', () => {
    for (const w of CONTROL_PLANE) {
      const o = workload(w.name);
      expect(o, w.name).toBeDefined();
      for (const c of o.spec.template.spec.containers) {
        expect(c.resources?.limits?.memory, `${w.name}/${c.name}`).toBeUndefined();
        expect(c.resources?.requests?.memory, `${w.name}/${c.name}`).toMatch(/Mi$/);
      }
    }
  });
});

describe(`the Dapr ${VERSION} chart with install-dapr --no-scheduler`, () => {
  it('renders the command line install-dapr runs into a control plane without the scheduler, and sidecars told so', async () => {
    const { upgradeInstallArgs } = await import('../../scripts/lib/kube/helm.js');
    const { upgradeOptions } = await import('../../scripts/lib/components/dapr/controlplane.js');
    const { controlPlaneOf } = await import('../../scripts/lib/components/dapr/values.js');
    const settings = {
      chart: { ref: { kind: 'local', path: CHART }, setString: { 'global.tag': VERSION } },
      valuesPath: path.join(REPO_ROOT, VALUES_FILE),
      scheduler: false,
    };
    const args = upgradeInstallArgs(upgradeOptions(settings as never));
    expect(args).toContain('global.scheduler.enabled=false');
    // The same --values/--set/--set-string install-dapr passes, rendered by helm template.
    const flags = args.slice(args.indexOf('--namespace')).filter((a, i, all) => !['--create-namespace', '--labels'].includes(a) && all[i - 1] !== '--labels');
    const r = spawnSync(HELM, ['template', 'dapr', CHART, ...flags], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const rendered = parseAllDocuments(r.stdout)
      .map((d) => d.toJS())
      .filter(Boolean);
    const names = rendered
      .filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))
      .map((o) => o.metadata.name)
      .sort();
    expect(names).toEqual(
      controlPlaneOf(false)
        .map((w) => w.name)
        .sort(),
    );
    const injector = rendered.find((o) => o.kind === 'Deployment' && o.metadata.name === 'dapr-sidecar-injector');
    expect(injector.spec.template.spec.containers[0].args).toContain('--scheduler-enabled=false');
  });
});

describe("the kit's list of the Dapr chart's images", () => {
  it('match the names in the chart itself (global.registry, each sub-chart image)', () => {
    expect(existsSync(CHART), `${CHART} is missing: run test/substrate/provision.sh (it caches the Dapr chart)`).toBe(true);
    const values = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as { global: { registry: string } };
    expect(values.global.registry).toBe(DAPR_DEFAULT_REGISTRY);
    const sub = (name: string) =>
      parse(readFileSync(path.join(CHART, 'charts', name, 'values.yaml'), 'utf8')) as { image?: { name?: string }; injectorImage?: { name?: string } };
    const fromChart = [
      sub('dapr_operator').image?.name,
      sub('dapr_placement').image?.name,
      sub('dapr_sentry').image?.name,
      sub('dapr_sidecar_injector').injectorImage?.name,
      sub('dapr_scheduler').image?.name,
      sub('dapr_sidecar_injector').image?.name,
    ];
    expect(fromChart).toEqual(DAPR_CHART_IMAGES.map((i) => i.name));
  });
});
