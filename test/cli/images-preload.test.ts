// scripts/images.mts on today's Docker: the kind commands follow the image store docker info reports (the
// containerd store needs the archive form, kubernetes-sigs/kind#3795), and --load runs the loader of the target
// (--for or the current context) image by image. The real entry script runs against fake tools on PATH.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDockerInfo, toArch } from '../../scripts/lib/tools/images/target.js';
import { checkImagesUsage } from '../../scripts/lib/tools/images.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { parseFlags } from '../../scripts/lib/core/flags.js';
import { COMMON_FLAGS } from '../../scripts/lib/core/config.js';
import { imagesFlags } from '../../scripts/lib/tools/images.js';
import { COMPONENTS } from '../../scripts/lib/components/index.js';
import { STACK_TRACE } from '../support/cli.js';
import { changes, sandbox, type Sandbox } from '../support/fake-bins.js';

let box: Sandbox;
let names: string[];
beforeAll(async () => {
  box = sandbox();
  const r = await box.run('scripts/images.mts', ['--names'], { tools: [] });
  expect(r.code, r.stderr).toBe(0);
  names = r.stdout.trim().split('\n');
  expect(names.length).toBeGreaterThan(5);
}, 120_000);
afterAll(() => box?.remove());

const KIND_ARM_CONTAINERD = { FAKE_DOCKER_STORE: 'containerd', FAKE_DOCKER_ARCH: 'aarch64' };

describe('docker info: which image store', () => {
  it('the containerd store by DriverStatus driver-type, or by a snapshotter-only driver name; overlay2 is the classic store', () => {
    const info = (o: object) => parseDockerInfo(JSON.stringify(o));
    expect(info({ Driver: 'overlayfs', DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']], Architecture: 'aarch64' })).toMatchObject({
      ok: true,
      store: 'containerd',
      arch: 'arm64',
    });
    expect(info({ Driver: 'custom', DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] })).toMatchObject({ store: 'containerd' });
    expect(info({ Driver: 'stargz', DriverStatus: [] })).toMatchObject({ store: 'containerd' });
    expect(info({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']], Architecture: 'x86_64' })).toMatchObject({
      ok: true,
      store: 'classic',
      arch: 'amd64',
    });
    expect(info({ ServerErrors: ['Cannot connect to the Docker daemon'] })).toMatchObject({ ok: false, why: expect.stringContaining('Cannot connect') });
    expect(parseDockerInfo('not json')).toMatchObject({ ok: false });
    expect([toArch('x86_64'), toArch('amd64'), toArch('aarch64'), toArch('arm64'), toArch('armv7l')]).toEqual(['amd64', 'amd64', 'arm64', 'arm64', undefined]);
  });
});

describe('the printed kind commands', () => {
  it('containerd store: docker image save --platform linux/<arch> then kind load image-archive, never kind load docker-image', async () => {
    const r = await box.run('scripts/images.mts', ['--for', 'kind', '--cluster-name', 'learnflow'], { tools: ['docker'], env: KIND_ARM_CONTAINERD });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`docker image save --platform linux/arm64 -o learnflow-images-arm64.tar ${names.join(' ')}`);
    expect(r.stdout).toContain('kind load image-archive learnflow-images-arm64.tar --name learnflow');
    expect(r.stdout).toContain('containerd image store');
    expect(r.stdout).not.toMatch(/^kind load docker-image/m);
    expect(r.calls).toEqual(['docker info --format {{json .}}']);
  });

  it('overlay2 (the classic store): kind load docker-image', async () => {
    const r = await box.run('scripts/images.mts', ['--for', 'kind', '--cluster-name', 'learnflow', '--json'], {
      tools: ['docker'],
      env: { FAKE_DOCKER_STORE: 'overlay2' },
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { data: { preload: { kind: string[] }; kind: { store: string } } };
    expect(report.data.kind.store).toBe('classic');
    expect(report.data.preload.kind).toEqual([
      `for i in ${names.join(' ')}; do docker pull "$i"; done`,
      `kind load docker-image ${names.join(' ')} --name learnflow`,
    ]);
  });

  it('no docker and no cluster: the archive form (works on both stores), saying why', async () => {
    const r = await box.run('scripts/images.mts', ['--for', 'kind'], { tools: ['kubectl'] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Docker's image store is unknown: docker is not installed/);
    expect(r.stdout).toMatch(/linux\/(amd64|arm64): this machine's \(no cluster answered/);
    expect(r.stdout).toMatch(/kind load image-archive learnflow-images-(amd64|arm64)\.tar --name kind/);
  });
});

describe('--load', () => {
  const preloadDir = (calls: string[]) => calls.map((c) => c.replace(/\S*\.learnflow\/preload-\d+\//g, '<dir>/'));

  it('kind (from the context kind-learnflow) on the containerd store: pull, save one platform, kind load image-archive, image by image', async () => {
    const r = await box.run('scripts/images.mts', ['--load'], { env: { ...KIND_ARM_CONTAINERD, FAKE_CONTEXT: 'kind-learnflow', FAKE_NODE_ARCH: 'arm64' } });
    expect(r.code, r.stderr).toBe(0);
    const n = (i: number) => String(i + 1).padStart(2, '0');
    expect(preloadDir(changes(r.calls))).toEqual(
      names.flatMap((img, i) => [
        `docker pull --platform linux/arm64 ${img}`,
        `docker image save --platform linux/arm64 -o <dir>/${n(i)}.tar ${img}`,
        `kind load image-archive <dir>/${n(i)}.tar --name learnflow`,
      ]),
    );
    for (const [i, img] of names.entries()) expect(r.stderr).toContain(`[${i + 1}/${names.length}] ${img}`);
    expect(r.calls).toContain('kind version');
  });

  it('kind on overlay2: kind load docker-image; an image already in Docker is not pulled again', async () => {
    const r = await box.run('scripts/images.mts', ['--load', '--for', 'kind'], { env: { FAKE_DOCKER_STORE: 'overlay2', FAKE_DOCKER_HAVE: names[0]! } });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual(names.flatMap((img, i) => [...(i === 0 ? [] : [`docker pull ${img}`]), `kind load docker-image ${img} --name kind`]));
  });

  it('minikube: minikube image load, -p with --cluster-name; no docker needed', async () => {
    const r = await box.run('scripts/images.mts', ['--load', '--for', 'minikube', '--cluster-name', 'dev'], { tools: ['minikube'] });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual(names.map((img) => `minikube image load ${img} -p dev`));
  });

  it('k3d (from the context k3d-lab): pull, then k3d image import -c lab', async () => {
    const r = await box.run('scripts/images.mts', ['--load'], { env: { FAKE_CONTEXT: 'k3d-lab' } });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual(names.flatMap((img) => [`docker pull ${img}`, `k3d image import ${img} -c lab`]));
  });

  it('docker-desktop: the pull is the pre-load', async () => {
    const r = await box.run('scripts/images.mts', ['--load'], { env: { FAKE_CONTEXT: 'docker-desktop' } });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual(names.map((img) => `docker pull ${img}`));
  });

  it('a missing loader is exit 3 with the fix, before anything is pulled', async () => {
    const kind = await box.run('scripts/images.mts', ['--load', '--for', 'kind'], { tools: ['docker', 'kubectl'] });
    expect(kind.code).toBe(3);
    expect(kind.stderr).toContain('kind is not installed or not on PATH');
    expect(kind.stderr).toContain('fix: install kind: https://kind.sigs.k8s.io/');
    expect(changes(kind.calls)).toEqual([]);
    const docker = await box.run('scripts/images.mts', ['--load', '--for', 'k3d'], { tools: ['k3d'] });
    expect(docker.code).toBe(3);
    expect(docker.stderr).toContain('docker is not installed or not on PATH');
    const minikube = await box.run('scripts/images.mts', ['--load', '--for', 'minikube'], { tools: [] });
    expect(minikube.code).toBe(3);
    expect(minikube.stderr).toContain('minikube is not installed');
    expect(kind.stderr + docker.stderr + minikube.stderr).not.toMatch(STACK_TRACE);
  });

  it('a load that fails is exit 1 naming the image; the images after it are not tried', async () => {
    const bad = names[1]!;
    const r = await box.run('scripts/images.mts', ['--load', '--for', 'kind', '--cluster-name', 'learnflow'], {
      env: { FAKE_DOCKER_STORE: 'overlay2', FAKE_LOAD_FAIL: bad },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`could not load ${bad} into kind cluster learnflow`);
    expect(changes(r.calls).at(-1)).toBe(`kind load docker-image ${bad} --name learnflow`);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const pull = await box.run('scripts/images.mts', ['--load', '--for', 'docker-desktop'], { env: { FAKE_PULL_FAIL: names[0]! } });
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`could not pull ${names[0]}`);
  });

  it('--dry-run prints the commands and runs none; --json is one document', async () => {
    const r = await box.run('scripts/images.mts', ['--load', '--dry-run', '--json'], {
      env: { ...KIND_ARM_CONTAINERD, FAKE_CONTEXT: 'kind-learnflow', FAKE_NODE_ARCH: 'arm64' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.calls)).toEqual([]);
    const report = JSON.parse(r.stdout) as { dryRun: boolean; data: { commands: string[] } };
    expect(report.dryRun).toBe(true);
    expect(report.data.commands).toHaveLength(names.length * 3);
    expect(report.data.commands[2]).toMatch(/^kind load image-archive \S+\/01\.tar --name learnflow$/);
  });

  it('a context that names no known kind of cluster is exit 2 asking for --for', async () => {
    const r = await box.run('scripts/images.mts', ['--load', '--yes'], { env: { FAKE_CONTEXT: 'gke_prod_europe' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--for is needed');
    expect(changes(r.calls)).toEqual([]);
  });
});

describe('bad usage is exit 2 naming what is wrong', () => {
  const parse = (argv: string[]) => {
    const config = buildConfig(parseFlags([...COMMON_FLAGS, ...imagesFlags(Object.values(COMPONENTS))], argv, {}, 2));
    return () => checkImagesUsage(config);
  };

  it('the command and FILE are found wherever the flags stand', () => {
    const args = (argv: string[]) => parseFlags([...COMMON_FLAGS, ...imagesFlags(Object.values(COMPONENTS))], argv, {}, 2).positionals;
    expect(args(['--arch', 'arm64', 'save', 'b.tar', '--json'])).toEqual(['save', 'b.tar']);
    expect(args(['--names', '-n', 'x'])).toEqual([]);
    expect(args(['load', '--for', 'kind', 'f.tar'])).toEqual(['load', 'f.tar']);
  });

  it('FILE missing, an unknown command, flags that do not go together', () => {
    expect(parse(['save'])).toThrow(/save needs FILE/);
    expect(parse(['load'])).toThrow(/load needs FILE/);
    expect(parse(['pack', 'x.tar'])).toThrow(/unknown command 'pack'/);
    expect(parse(['--arch', 'arm64'])).toThrow(/--arch is for save/);
    expect(parse(['save', '/tmp/x.tar', '--for', 'kind'])).toThrow(/--for is for --load and load/);
    expect(parse(['--load', 'load', 'x.tar'])).toThrow(/--load and load contradict/);
    expect(parse(['--names', '--load'])).toThrow(/--names/);
    expect(parse(['load', '/nonexistent/bundle.tar'])).toThrow(/bundle\.tar does not exist/);
    expect(() => parseFlags([...COMMON_FLAGS, ...imagesFlags(Object.values(COMPONENTS))], ['--arch', 'riscv64'], {})).toThrow(/--arch/);
  });

  it('through the real script: exit 2, the reason, no stack trace', async () => {
    for (const args of [['save'], ['load', 'missing.tar'], ['save', 'x.tar', '--arch', 'sparc'], ['unpack', 'x.tar']]) {
      const r = await box.run('scripts/images.mts', args, { tools: [] });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
  });
});
