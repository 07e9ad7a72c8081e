// scripts/images.mts save FILE / load FILE: one tar of every image for one architecture and the pinned Dapr
// chart, pre-loaded on a machine without network; install-dapr then installs the bundled chart. The real entry
// scripts run (from a copy of the kit) against fake docker, kind, minikube, kubectl and helm on PATH; the tar is
// the system's.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledChartDir, chooseChart } from '../../scripts/lib/components/dapr/settings.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import { imageFile, parseManifest, type BundleManifest } from '../../scripts/lib/tools/images/bundle.js';
import { STACK_TRACE } from '../support/cli.js';
import { changes, sandbox, type Sandbox } from '../support/fake-bins.js';

const DAPR = readVersions().dapr.version;
let box: Sandbox;
let names: string[];
let bundle: string;

const tar = (...args: string[]) => execFileSync('tar', args).toString();
const manifestOf = (file: string) => JSON.parse(tar('-xOf', file, 'manifest.json')) as BundleManifest;

beforeAll(async () => {
  box = sandbox();
  const r = await box.run('scripts/images.mts', ['--names'], { tools: [] });
  expect(r.code, r.stderr).toBe(0);
  names = r.stdout.trim().split('\n');
  bundle = path.join(box.tmp, 'learnflow-images.tar');
}, 120_000);
afterAll(() => box?.remove());

describe('save FILE', () => {
  it('writes one tar: manifest.json naming exactly the images --names lists, one saved file each, the chart directory', async () => {
    const r = await box.run('scripts/images.mts', ['save', bundle, '--arch', 'arm64'], { tools: ['docker', 'helm'] });
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(bundle);
    expect(m.arch).toBe('arm64');
    expect(m.kitVersion).toBe((JSON.parse(readFileSync(path.join(box.kit, 'package.json'), 'utf8')) as { version: string }).version);
    expect(m.images.map((i) => i.image)).toEqual(names);
    expect(m.chart).toEqual({ version: DAPR, dir: 'chart/dapr' });
    const listed = tar('-tf', bundle)
      .split('\n')
      .map((l) => l.replace(/\/$/, ''));
    for (const i of m.images) expect(listed).toContain(i.file);
    expect(listed).toContain('chart/dapr/Chart.yaml');
    expect(tar('-xOf', bundle, m.images[0]!.file)).toBe(`fake image ${names[0]}\n`);
    const staging = m.images.map((i) => path.join(box.tmp, '.learnflow-images.tar.d', i.file));
    expect(changes(r.calls)).toEqual([
      ...names.flatMap((img, i) => [`docker pull --platform linux/arm64 ${img}`, `docker image save --platform linux/arm64 -o ${staging[i]} ${img}`]),
      `helm pull dapr --repo ${readVersions().dapr.repo} --version ${DAPR} --untar --untardir ${path.join(box.tmp, '.learnflow-images.tar.d', 'chart')}`,
      `tar -cf ${path.join(box.tmp, '.learnflow-images.tar.partial')} -C ${path.join(box.tmp, '.learnflow-images.tar.d')} manifest.json images chart`,
    ]);
    // The pieces are gone, only the bundle is left; a second save refuses to overwrite it.
    expect(existsSync(path.join(box.tmp, '.learnflow-images.tar.d'))).toBe(false);
    const again = await box.run('scripts/images.mts', ['save', bundle], { tools: [] });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  it('--dapr-chart DIR goes into the bundle as it is (no helm); the default --arch is the nodes', async () => {
    const chart = path.join(box.tmp, 'my-chart');
    mkdirSync(chart, { recursive: true });
    writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: dapr\nversion: 0.0.0\n');
    writeFileSync(path.join(chart, 'values.yaml'), 'marker: mine\n');
    const file = path.join(box.tmp, 'local-chart.tar');
    const r = await box.run('scripts/images.mts', ['save', file, '--dapr-chart', chart], {
      tools: ['docker', 'kubectl'],
      env: { FAKE_NODE_ARCH: 'amd64 amd64' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("saving for linux/amd64 (the cluster's nodes are amd64)");
    expect(manifestOf(file).arch).toBe('amd64');
    expect(tar('-xOf', file, 'chart/dapr/values.yaml')).toBe('marker: mine\n');
    expect(r.calls.filter((c) => c.startsWith('helm'))).toEqual([]);
  });

  it('no helm and no local chart: exit 3 naming --dapr-chart, before any pull; an unreachable chart repository the same', async () => {
    const r = await box.run('scripts/images.mts', ['save', path.join(box.tmp, 'nohelm.tar'), '--arch', 'amd64'], { tools: ['docker'] });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('helm is not installed');
    expect(r.stderr).toContain('--dapr-chart DIR');
    expect(changes(r.calls)).toEqual([]);
    const offline = await box.run('scripts/images.mts', ['save', path.join(box.tmp, 'offline.tar'), '--arch', 'amd64'], {
      tools: ['docker', 'helm'],
      env: { FAKE_HELM_OFFLINE: '1' },
    });
    expect(offline.code).toBe(3);
    expect(offline.stderr).toMatch(/could not download the Dapr chart .* --dapr-chart DIR/s);
    expect(existsSync(path.join(box.tmp, 'offline.tar'))).toBe(false);
    expect(existsSync(path.join(box.tmp, '.offline.tar.partial'))).toBe(false);
    expect(r.stderr + offline.stderr).not.toMatch(STACK_TRACE);
  });

  it('--dry-run prints the commands and writes nothing', async () => {
    const file = path.join(box.tmp, 'dry.tar');
    const r = await box.run('scripts/images.mts', ['save', file, '--arch', 'arm64', '--dry-run'], { tools: ['docker', 'helm'] });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual([]);
    expect(r.stdout).toContain(`docker image save --platform linux/arm64 -o`);
    expect(r.stdout).toContain('helm pull dapr --repo');
    expect(r.stdout).toMatch(/^tar -cf \S+ -C \S+ manifest\.json images chart$/m);
    expect(existsSync(file)).toBe(false);
  });
});

describe('load FILE', () => {
  it('kind: every image from its archive file with kind load image-archive; the chart unpacked where install-dapr finds it', async () => {
    const r = await box.run('scripts/images.mts', ['load', bundle], { env: { FAKE_CONTEXT: 'kind-learnflow', FAKE_NODE_ARCH: 'arm64' } });
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(bundle);
    const calls = changes(r.calls).map((c) => c.replace(/\S*\.learnflow\/bundle\/\.unpack-\d+/g, '<unpacked>'));
    expect(calls).toEqual([`tar -xf ${bundle} -C <unpacked>`, ...m.images.map((i) => `kind load image-archive <unpacked>/${i.file} --name learnflow`)]);
    const chart = path.join(box.kit, '.learnflow', 'bundle', `dapr-chart-${DAPR}`);
    expect(readFileSync(path.join(chart, 'Chart.yaml'), 'utf8')).toContain(`version: ${DAPR}`);
    expect(r.stderr).toContain(`[${names.length}/${names.length}] ${names.at(-1)}`);
    // Nothing else is left in the bundle folder.
    expect(readdirSync(path.join(box.kit, '.learnflow', 'bundle'))).toEqual([`dapr-chart-${DAPR}`]);

    // install-dapr, without --dapr-chart, now installs the bundled chart.
    const dapr = await box.run('scripts/install-dapr.mts', ['--dry-run'], { tools: ['helm'] });
    expect(dapr.code, dapr.stderr).toBe(0);
    expect(dapr.stderr).toContain(`the bundled chart .learnflow/bundle/dapr-chart-${DAPR}`);
    expect(dapr.stderr).toContain(`helm upgrade --install dapr ${chart}`);
    expect(dapr.stderr).not.toContain('--repo');
  });

  it('minikube and docker-desktop load from the files too', async () => {
    const m = manifestOf(bundle);
    const mk = await box.run('scripts/images.mts', ['load', bundle, '--for', 'minikube', '--cluster-name', 'dev'], { env: { FAKE_NODE_ARCH: 'arm64' } });
    expect(mk.code, mk.stderr).toBe(0);
    expect(changes(mk.calls).map((c) => c.replace(/\S*\.unpack-\d+/g, '<u>'))).toEqual([
      `tar -xf ${bundle} -C <u>`,
      ...m.images.map((i) => `minikube image load <u>/${i.file} -p dev`),
    ]);
    const dd = await box.run('scripts/images.mts', ['load', bundle], { env: { FAKE_CONTEXT: 'docker-desktop', FAKE_NODE_ARCH: 'arm64' } });
    expect(dd.code, dd.stderr).toBe(0);
    expect(changes(dd.calls).map((c) => c.replace(/\S*\.unpack-\d+/g, '<u>'))).toEqual([
      `tar -xf ${bundle} -C <u>`,
      ...m.images.map((i) => `docker load -i <u>/${i.file}`),
    ]);
  });

  it("a bundle for another architecture than the nodes' is exit 2 with the fix; nothing is loaded", async () => {
    const r = await box.run('scripts/images.mts', ['load', bundle], { env: { FAKE_CONTEXT: 'kind-learnflow', FAKE_NODE_ARCH: 'amd64' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("holds linux/arm64 images; the cluster's nodes are amd64");
    expect(r.stderr).toContain('fix: on a machine with network: ./scripts/images.mts save learnflow-images-amd64.tar --arch amd64');
    expect(changes(r.calls)).toEqual([]);
  });

  it('a missing loader is exit 3 before anything is unpacked', async () => {
    const r = await box.run('scripts/images.mts', ['load', bundle, '--for', 'minikube'], { tools: ['kubectl'], env: { FAKE_NODE_ARCH: 'arm64' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('minikube is not installed or not on PATH');
    expect(changes(r.calls)).toEqual([]);
  });

  it('--dry-run prints the commands and changes nothing', async () => {
    const r = await box.run('scripts/images.mts', ['load', bundle, '--for', 'kind', '--dry-run'], { env: { FAKE_NODE_ARCH: 'arm64' } });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual([]);
    expect(r.stdout).toMatch(/^kind load image-archive \S+ --name kind$/m);
  });

  it('a file that is not a bundle is exit 2 naming FILE', async () => {
    const text = path.join(box.tmp, 'notes.txt');
    writeFileSync(text, 'hello\n');
    const plain = path.join(box.tmp, 'plain.tar');
    tar('-cf', plain, '-C', box.tmp, 'notes.txt');
    for (const file of [text, plain]) {
      const r = await box.run('scripts/images.mts', ['load', file, '--for', 'kind'], { env: { FAKE_NODE_ARCH: 'arm64' } });
      expect(r.code, file).toBe(2);
      expect(r.stderr).toMatch(/FILE \S+ is not a bundle from images\.mts save/);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
  });
});

describe('the manifest and the chart choice', () => {
  it('parseManifest refuses what save would not have written', () => {
    const good: BundleManifest = {
      kitVersion: '0.1.0',
      arch: 'arm64',
      images: [{ image: 'postgres:17', file: imageFile(0, 'postgres:17') }],
      chart: { version: DAPR, dir: 'chart/dapr' },
    };
    expect(parseManifest(JSON.stringify(good), 'b.tar')).toEqual(good);
    expect(good.images[0]!.file).toBe('images/01-postgres_17.tar');
    expect(() => parseManifest('{', 'b.tar')).toThrow(/not JSON/);
    expect(() => parseManifest(JSON.stringify({ ...good, arch: 's390x' }), 'b.tar')).toThrow(/architecture 's390x'/);
    expect(() => parseManifest(JSON.stringify({ ...good, images: [{ image: 'x', file: '../../etc/passwd' }] }), 'b.tar')).toThrow(/images list/);
    expect(() => parseManifest(JSON.stringify({ ...good, chart: { version: DAPR, dir: '/abs' } }), 'b.tar')).toThrow(/chart/);
  });

  it('install-dapr takes the bundled chart for the pinned version only, and never over --dapr-chart', () => {
    const root = path.join(box.tmp, 'root');
    expect(chooseChart(DAPR, undefined, root).ref.kind).toBe('repo');
    mkdirSync(bundledChartDir(root, DAPR), { recursive: true });
    writeFileSync(path.join(bundledChartDir(root, DAPR), 'Chart.yaml'), `name: dapr\nversion: ${DAPR}\n`);
    expect(chooseChart(DAPR, undefined, root)).toMatchObject({
      ref: { kind: 'local', path: bundledChartDir(root, DAPR) },
      chartLabel: `dapr-${DAPR}`,
      describe: expect.stringMatching(/^the bundled chart/),
    });
    expect(chooseChart('1.17.0', undefined, root).ref.kind).toBe('repo');
    const mine = path.join(box.tmp, 'my-chart');
    expect(chooseChart(DAPR, mine, root).ref).toEqual({ kind: 'local', path: mine });
  });
});
