/**
 * A real Kubernetes control plane with simulated nodes (KWOK) for tests.
 *
 * etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the kwok controller run as local
 * processes started by `kwokctl --runtime binary`, from the binaries cached by
 * test/substrate/provision-kube.sh (cache: $LEARNFLOW_TEST_CACHE or ~/.cache/learnflow-test).
 * Nothing is downloaded here; missing binaries are a hard error, never a skip.
 *
 * Real: API server (schemas, server-side apply, admission incl. Pod Security, CRDs, RBAC), controllers
 * (StatefulSet/Deployment/Job/PV binder), scheduler (requests vs. node allocatable).
 * Simulated: nodes and pods (KWOK Stages move pods to Running/Ready, Job pods to Succeeded).
 * No container runs: `kubectl exec`, `logs`, `port-forward` do not work.
 *
 * Ports: six per cluster, all on 127.0.0.1, chosen by the OS (ephemeral range) just before start and
 * handed to kwokctl: etcd client + peer, kube-apiserver (HTTPS), kube-controller-manager,
 * kube-scheduler, kwok-controller. Read the API server address from the kubeconfig. Nothing uses fixed
 * ports, so clusters can run in parallel. (kwokctl's own port picking counts down from 32767 and
 * races between parallel creators, and binds 0.0.0.0; hence the explicit config.)
 *
 * Cluster state (pki, etcd data, component logs) lives under $CACHE/kwok-workdir/clusters/<name>;
 * clusters left behind by a dead test process are deleted by the next startKubeCluster().
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapStaleRealNodes, REAL_NODE_SERVICE_CIDR, startRealNode, type RealNode, type RealNodeOptions } from './real-node.js';
import { runProcess, type ProcessResult } from './process.js';
import { CACHE } from './paths.js';

export interface KubeClusterOptions {
  /** Name prefix; a unique suffix (-p<pid>-<random>) is always appended. Default "lf". */
  name?: string;
  /** Number of simulated nodes. Default 1. */
  nodes?: number;
  /** Allocatable/capacity CPU per node. Default "4". */
  nodeCpu?: string;
  /** Allocatable/capacity memory per node. Default "8Gi". */
  nodeMemory?: string;
  /** Max pods per node. Default 110. */
  nodePods?: number;
  /** Create the StorageClass (default "standard") annotated as default. Default true. false: no StorageClass object. */
  defaultStorageClass?: boolean;
  /** StorageClass name used by the default class and by the pre-created PersistentVolumes. Default "standard". */
  storageClassName?: string;
  /** Pre-created hostPath PersistentVolumes (ReadWriteOnce, Retain). Default 10. */
  persistentVolumes?: number;
  /** Size of each PersistentVolume. Default "20Gi". */
  persistentVolumeSize?: string;
  /** Budget for `kwokctl create cluster` + setup, in ms (keep below the hook timeout). Default 120_000. */
  timeoutMs?: number;
  /**
   * Also start one REAL node (kubelet + containerd, test/support/real-node.ts) beside the KWOK nodes. Default false.
   * Then: kwok manages only the nodes annotated `kwok.x-k8s.io/node: fake`; the API server has a kubelet client
   * certificate, the Service range 10.96.0.0/16 and MutatingAdmissionPolicy; the default StorageClass binds
   * WaitForFirstConsumer, the pre-created KWOK PersistentVolumes are reachable from KWOK nodes only and the real
   * node gets hostPath PersistentVolumes of its own (directories mode 0777).
   */
  realNode?: boolean | RealNodeOptions;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. with `apply -f -`). */
  input?: string;
  /** Default 60_000 ms. */
  timeoutMs?: number;
}

export interface KubeCluster {
  /** Unique kwokctl cluster name. */
  name: string;
  /** Path of a kubeconfig file for this cluster only (temp dir, removed by stop()). */
  kubeconfig: string;
  /** Context name inside the kubeconfig (kwok-<name>). */
  context: string;
  /** Directory holding kubectl, helm, kwokctl, ... (first on env.PATH). */
  binDir: string;
  /** Environment for child processes: PATH with binDir first, KUBECONFIG set. */
  env: NodeJS.ProcessEnv;
  /** Names of the simulated nodes. */
  nodeNames: string[];
  /** Pinned versions this cluster runs (from test/substrate/versions.env). */
  versions: SubstrateVersions;
  /** Run kubectl against this cluster; resolves stdout, rejects with stderr in the message. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** `kubectl apply -f -` of a YAML/JSON manifest. */
  apply(manifest: string): Promise<string>;
  /** The real node, when started with `realNode` (stopped by stop()). */
  realNode?: RealNode;
  /** Kill the kwok controller and have kwokctl start it again (what a start does when KWOK nodes are slow to be Ready). */
  restartKwokController(): Promise<{ oldPid: number; newPid: number }>;
  /** Delete the cluster (kwokctl delete cluster) and its temp files. Idempotent; never throws. */
  stop(): Promise<void>;
}

export interface SubstrateVersions {
  KUBE_VERSION: string;
  ETCD_VERSION: string;
  KWOK_VERSION: string;
  KUBECTL_LAYER_PKG: string;
  KUBECTL_LAYER_VERSION: string;
  [key: string]: string;
}

export interface SubstratePaths {
  cacheDir: string;
  binDir: string;
  stagesDir: string;
  kwokWorkdir: string;
  versions: SubstrateVersions;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSIONS_FILE = join(REPO_ROOT, 'test', 'substrate', 'versions.env');
const BINARIES = ['kubectl', 'helm', 'kwokctl', 'kwok', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
const CLUSTER_NAME_RE = /^[a-z0-9-]+-p(\d+)-[a-z0-9]+$/;

/** A minimal stand-in StatefulSet in learnflow (for Kafka or PostgreSQL where their components are tested elsewhere). */
export const standInStatefulSet = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name, namespace: 'learnflow', labels: { 'app.kubernetes.io/name': name } },
  spec: {
    serviceName: name,
    replicas: 1,
    selector: { matchLabels: { 'app.kubernetes.io/name': name } },
    template: {
      metadata: { labels: { 'app.kubernetes.io/name': name } },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name,
            image: `${name}:test`,
            resources: { requests: { cpu: '100m', memory: '128Mi' } },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    },
  },
});

/** Label key understood by the Stage installed with installImagePullBackOffStage(). */
export const FAULT_LABEL = 'learnflow.test/kwok-fault';

export function readSubstrateVersions(file: string = VERSIONS_FILE): SubstrateVersions {
  const out: Record<string, string> = {};
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2].replace(/^["']|["']$/g, '');
  }
  for (const k of ['KUBE_VERSION', 'ETCD_VERSION', 'KWOK_VERSION', 'KUBECTL_LAYER_PKG', 'KUBECTL_LAYER_VERSION']) {
    if (!out[k]) throw new Error(`${file}: ${k} is not set`);
  }
  return out as SubstrateVersions;
}

export function substratePaths(): SubstratePaths {
  const cacheDir = CACHE;
  const versions = readSubstrateVersions();
  return {
    cacheDir,
    binDir: join(cacheDir, 'bin'),
    stagesDir: join(cacheDir, `kwok-stages-${versions.KWOK_VERSION}`),
    kwokWorkdir: join(cacheDir, 'kwok-workdir'),
    versions,
  };
}

/** Throws a loud, actionable error when the provisioned substrate is missing or stale. */
export function assertSubstrateProvisioned(paths: SubstratePaths = substratePaths()): void {
  const { cacheDir, binDir, stagesDir, versions } = paths;
  const problems: string[] = [];
  for (const b of BINARIES) {
    try {
      accessSync(join(binDir, b), fsConstants.X_OK);
    } catch {
      problems.push(`missing executable ${join(binDir, b)}`);
    }
  }
  const markers = [
    join(cacheDir, `kubernetes-${versions.KUBE_VERSION}`, '.complete'),
    join(cacheDir, `etcd-${versions.ETCD_VERSION}`, '.complete'),
    join(cacheDir, `kwok-${versions.KWOK_VERSION}`, '.complete'),
    join(cacheDir, `kubectl-layer-${versions.KUBECTL_LAYER_VERSION}`, '.complete'),
    join(stagesDir, '.complete'),
  ];
  for (const m of markers) if (!existsSync(m)) problems.push(`missing ${m}`);
  if (problems.length > 0) {
    throw new Error(
      [
        'Kubernetes test substrate is not provisioned (pinned in test/substrate/versions.env):',
        ...problems.map((p) => `  - ${p}`),
        'Run: bash test/substrate/provision.sh   (or only the Kubernetes part: bash test/substrate/provision-kube.sh)',
        'A cold build takes ~20 minutes; afterwards it is cached.',
      ].join('\n'),
    );
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return runProcess(cmd, args, { env, ...opts });
}

async function runOk(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, env, opts);
  if (r.code !== 0) {
    const shown = [cmd.split('/').pop(), ...args].join(' ');
    const out = (r.stderr || r.stdout).trim();
    throw new Error(`${shown} failed (exit ${r.code}): ${out.length > 4000 ? `...${out.slice(-4000)}` : out}`);
  }
  return r.stdout;
}

/** n distinct free loopback ports from the OS (all held open together, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function baseEnv(paths: SubstratePaths): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: [paths.binDir, process.env.PATH ?? ''].join(delimiter),
    KWOK_WORKDIR: paths.kwokWorkdir,
    KWOK_KUBE_VERSION: `v${paths.versions.KUBE_VERSION}`,
    KWOK_RUNTIME: 'binary',
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Delete clusters whose creating test process is gone (e.g. a vitest worker killed by a signal or a hook
 * timeout). startKubeCluster() calls it; a vitest globalSetup/teardown may call it too. Returns the names.
 */
export async function reapStaleKubeClusters(paths: SubstratePaths = substratePaths()): Promise<string[]> {
  const dir = join(paths.kwokWorkdir, 'clusters');
  if (!existsSync(dir) || !existsSync(join(paths.binDir, 'kwokctl'))) return [];
  const reaped: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = CLUSTER_NAME_RE.exec(name);
    if (!m?.[1]) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    await run(join(paths.binDir, 'kwokctl'), deleteArgs(name, scratchKubeconfig()), baseEnv(paths), { timeoutMs: 60_000 });
    for (const t of readdirSync(tmpdir())) {
      if (t.startsWith(`learnflow-kube-${name}-`)) await rm(join(tmpdir(), t), { recursive: true, force: true });
    }
    reaped.push(name);
  }
  reaped.push(...(await reapStaleRealNodes()));
  return reaped;
}

// kwokctl delete refuses an empty --kubeconfig and otherwise edits ~/.kube/config: point it at a file
// that does not exist (it only logs that it cannot remove the context there).
function scratchKubeconfig(): string {
  return join(tmpdir(), `learnflow-kwok-delete-${process.pid}.kubeconfig`);
}
/** Healthy clusters have their KWOK nodes Ready in seconds; past this the kwok controller is restarted once. */
const NODE_READY_FIRST_MS = 40_000;

/** Stops the cluster's kwok controller (its pid file) and has kwokctl start it again, with the other components left running. */
async function restartKwokController(
  kwokctl: string,
  name: string,
  clusterDir: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ oldPid: number; newPid: number }> {
  const pidFile = join(clusterDir, 'pids', 'kwok-controller.pid');
  const readPid = () => {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no kwok controller pid in ${pidFile}`);
    return pid;
  };
  const oldPid = readPid();
  if (pidAlive(oldPid)) process.kill(oldPid, 'SIGTERM');
  for (let i = 0; i < 40 && pidAlive(oldPid); i++) await sleep(250);
  if (pidAlive(oldPid)) process.kill(oldPid, 'SIGKILL');
  await runOk(kwokctl, ['--name', name, 'start', 'cluster', '--timeout', `${Math.ceil(timeoutMs / 1000)}s`], env, { timeoutMs });
  return { oldPid, newPid: readPid() };
}

function deleteArgs(name: string, kubeconfig: string): string[] {
  return ['--name', name, 'delete', 'cluster', '--kubeconfig', kubeconfig];
}

const live = new Map<string, () => void>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgot stop() or the process exits early: synchronous delete.
  process.once('exit', () => {
    for (const kill of live.values()) kill();
  });
}

/** A KWOK node as startKubeCluster() creates them; `index` picks its InternalIP in the blackholed 10.89.0.0/16. */
export function nodeManifest(name: string, index: number, cpu: string, memory: string, pods: number, kubeVersion: string): object {
  const resources = { cpu, memory, pods: String(pods), 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: resources,
      capacity: resources,
      addresses: [
        { type: 'InternalIP', address: `10.89.${Math.floor(index / 250)}.${(index % 250) + 1}` },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: `v${kubeVersion}`,
        kubeProxyVersion: `v${kubeVersion}`,
        containerRuntimeVersion: 'kwok',
        kernelVersion: 'kwok',
        osImage: 'kwok',
        bootID: '',
        machineID: '',
        systemUUID: '',
      },
      phase: 'Running',
    },
  };
}

function storageObjects(
  o: Required<Pick<KubeClusterOptions, 'defaultStorageClass' | 'storageClassName' | 'persistentVolumes' | 'persistentVolumeSize'>>,
  cluster: string,
  realNode: boolean,
): object[] {
  const objs: object[] = [];
  if (o.defaultStorageClass) {
    objs.push({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: o.storageClassName,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'kubernetes.io/no-provisioner',
      reclaimPolicy: 'Retain',
      // With a real node, the scheduler picks the node first and the binder a volume reachable from it.
      volumeBindingMode: realNode ? 'WaitForFirstConsumer' : 'Immediate',
    });
  }
  for (let i = 0; i < o.persistentVolumes; i++) {
    const name = `kwok-pv-${String(i).padStart(3, '0')}`;
    objs.push({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, labels: { 'learnflow.test/pv': 'kwok' } },
      spec: {
        capacity: { storage: o.persistentVolumeSize },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: o.storageClassName,
        volumeMode: 'Filesystem',
        // Never touched: no kubelet mounts anything on a KWOK node (and a real node gets volumes of its own).
        hostPath: { path: `/tmp/kwok-pv/${cluster}/${name}`, type: 'DirectoryOrCreate' },
        ...(realNode ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'type', operator: 'In', values: ['kwok'] }] }] } } } : {}),
      },
    });
  }
  return objs;
}

function asList(items: object[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/**
 * The addresses KWOK hands out exist nowhere: pod IPs from its default 10.0.0.0/24, node IPs 10.89.x (nodeManifest).
 * The API server still dials them (webhook endpoints, logs and exec on a KWOK node), and without a route of their
 * own those packets would leave through the machine's default route. A blackhole route keeps them here. Added
 * only where such an address would otherwise go through a gateway, so a network that really uses the range is
 * left alone; idempotent, kept after the run like the real node's (nothing else uses these ranges).
 */
const KWOK_RANGES = ['10.0.0.0/24', '10.89.0.0/16'];
let kwokRangesContained = false;
export function keepKwokTrafficLocal(): void {
  if (kwokRangesContained || process.getuid?.() !== 0) return;
  for (const range of KWOK_RANGES) {
    const probe = spawnSync('ip', ['route', 'get', range.replace(/0\/\d+$/, '1')], { encoding: 'utf8' });
    if (probe.status !== 0 || !/\svia\s/.test(probe.stdout)) continue; // already contained, or on a local link
    spawnSync('ip', ['route', 'add', 'blackhole', range], { stdio: 'ignore' });
  }
  kwokRangesContained = true;
}

/**
 * Start a fresh KWOK cluster. Always call stop() (e.g. in afterAll); on a failure during start the
 * cluster is deleted before the error is thrown.
 */
export async function startKubeCluster(opts: KubeClusterOptions & { realNode: true | RealNodeOptions }): Promise<KubeCluster & { realNode: RealNode }>;
export async function startKubeCluster(opts?: KubeClusterOptions): Promise<KubeCluster>;
export async function startKubeCluster(opts: KubeClusterOptions = {}): Promise<KubeCluster> {
  const paths = substratePaths();
  assertSubstrateProvisioned(paths);
  keepKwokTrafficLocal();
  const o = {
    name: opts.name ?? 'lf',
    nodes: opts.nodes ?? 1,
    nodeCpu: opts.nodeCpu ?? '4',
    nodeMemory: opts.nodeMemory ?? '8Gi',
    nodePods: opts.nodePods ?? 110,
    defaultStorageClass: opts.defaultStorageClass ?? true,
    storageClassName: opts.storageClassName ?? 'standard',
    persistentVolumes: opts.persistentVolumes ?? 10,
    persistentVolumeSize: opts.persistentVolumeSize ?? '20Gi',
    timeoutMs: opts.timeoutMs ?? 120_000,
    realNode: opts.realNode === true ? {} : opts.realNode || undefined,
  };
  const prefix =
    o.name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 20) || 'lf';
  const name = `${prefix}-p${process.pid}-${randomBytes(3).toString('hex')}`;
  const kwokctl = join(paths.binDir, 'kwokctl');
  const kubectlBin = join(paths.binDir, 'kubectl');
  const env0 = baseEnv(paths);
  const deadline = Date.now() + o.timeoutMs;
  const left = () => Math.max(5_000, deadline - Date.now());

  await reapStaleKubeClusters(paths);

  const tmp = await mkdtemp(join(tmpdir(), `learnflow-kube-${name}-`));
  const clusterDir = join(paths.kwokWorkdir, 'clusters', name);
  const kubeconfig = join(tmp, 'kubeconfig');
  // KUBECACHEDIR: kubectl's discovery cache per cluster (random ports), removed with the temp dir.
  const env: NodeJS.ProcessEnv = { ...env0, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(tmp, 'kube-cache') };

  let stopped = false;
  let realNode: RealNode | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await realNode?.stop();
    live.delete(name);
    const r = await run(kwokctl, deleteArgs(name, kubeconfig), env0, { timeoutMs: 120_000 }).catch((e: Error) => ({
      code: -1,
      stdout: '',
      stderr: e.message,
    }));
    if (r.code !== 0) {
      process.stderr.write(`kube-cluster: kwokctl delete cluster ${name} failed: ${r.stderr.trim()}\n`);
    }
    await rm(tmp, { recursive: true, force: true });
  };
  installExitHook();
  live.set(name, () => {
    spawnSync(kwokctl, deleteArgs(name, scratchKubeconfig()), { env: env0, stdio: 'ignore', timeout: 60_000 });
  });

  const kubectl = (args: string[], kopts: KubectlOptions = {}) =>
    runOk(kubectlBin, ['--kubeconfig', kubeconfig, ...args], env, {
      input: kopts.input,
      timeoutMs: kopts.timeoutMs ?? 60_000,
    });
  const apply = (manifest: string) => kubectl(['apply', '-f', '-'], { input: manifest });

  try {
    // kwokctl's own "random" ports count down from 32767 and race between parallel creators, and it
    // binds 0.0.0.0 by default: choose OS-assigned loopback ports and bind 127.0.0.1 instead.
    const [apiPort, etcdPort, etcdPeerPort, kcmPort, schedPort, kwokPort] = await freePorts(6);
    const kwokctlConfig = join(tmp, 'kwokctl.yaml');
    await writeFile(
      kwokctlConfig,
      [
        'apiVersion: config.kwok.x-k8s.io/v1alpha1',
        'kind: KwokctlConfiguration',
        'options:',
        '  bindAddress: 127.0.0.1',
        `  kubeApiserverPort: ${apiPort}`,
        `  etcdPort: ${etcdPort}`,
        `  etcdPeerPort: ${etcdPeerPort}`,
        `  kubeControllerManagerPort: ${kcmPort}`,
        `  kubeSchedulerPort: ${schedPort}`,
        `  kwokControllerPort: ${kwokPort}`,
        ...(o.realNode ? realNodeControlPlane(join(clusterDir, 'pki')) : []),
        '',
      ].join('\n'),
    );
    const b = paths.binDir;
    await runOk(
      kwokctl,
      [
        '--name',
        name,
        '--config',
        kwokctlConfig,
        'create',
        'cluster',
        '--runtime',
        'binary',
        '--kubeconfig=',
        '--kube-apiserver-binary',
        join(b, 'kube-apiserver'),
        '--kube-controller-manager-binary',
        join(b, 'kube-controller-manager'),
        '--kube-scheduler-binary',
        join(b, 'kube-scheduler'),
        '--kwok-controller-binary',
        join(b, 'kwok'),
        '--etcd-binary',
        join(b, 'etcd'),
        '--kube-authorization=true',
        '--kube-admission=true',
        // Stages are served from the Stage CRD so tests can add fault stages at run time.
        '--enable-crds',
        'Stage',
        '--wait',
        `${Math.ceil(left() / 1000)}s`,
      ],
      env0,
      { timeoutMs: left() },
    );
    await writeFile(kubeconfig, await runOk(kwokctl, ['--name', name, 'get', 'kubeconfig'], env0), { mode: 0o600 });
    const context = (await kubectl(['config', 'current-context'])).trim();

    // Default node/pod lifecycle stages (the ones kwokctl would otherwise load from its config).
    const stageFiles = readdirSync(paths.stagesDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    const stages = (await Promise.all(stageFiles.map((f) => readFile(join(paths.stagesDir, f), 'utf8')))).join('\n---\n');
    for (;;) {
      try {
        await apply(stages);
        break;
      } catch (err) {
        // The Stage CRD may not be established yet right after create.
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }

    const nodeNames = Array.from({ length: o.nodes }, (_, i) => `kwok-node-${i}`);
    await apply(asList(nodeNames.map((n, i) => nodeManifest(n, i, o.nodeCpu, o.nodeMemory, o.nodePods, paths.versions.KUBE_VERSION))));
    const storage = storageObjects(o, name, o.realNode !== undefined);
    if (storage.length > 0) await apply(asList(storage));
    if (nodeNames.length > 0) {
      const nodesReady = (ms: number) =>
        kubectl(['wait', '--for=condition=Ready', 'node', '--all', `--timeout=${Math.ceil(ms / 1000)}s`], { timeoutMs: ms + 5_000 });
      await nodesReady(Math.min(NODE_READY_FIRST_MS, left()))
        .catch(async (err: Error) => {
          // Seen three times under load: KWOK nodes not Ready in 111 s, the kwok controller's log ending before "Start
          // stage controller". kwokctl starts that controller before it installs the Stage CRD, so its first reads of
          // the stages fail, and it had not read them again by then (its client retries within a minute, so a read
          // probably hung; not reproduced). A restarted controller finds the CRD and the stages at once: kill it and let `kwokctl
          // start cluster` start it again (it keeps the components that are running).
          if (left() <= 10_000) throw err;
          process.stderr.write(`kube-cluster: ${name}: nodes not Ready after ${NODE_READY_FIRST_MS / 1000} s; restarting kwok-controller\n`);
          await restartKwokController(kwokctl, name, clusterDir, env0, left());
          await nodesReady(left());
        })
        .catch(async (err: Error) => {
          // Say why: both components' last lines, and the port the cluster was given.
          const tail = async (component: string, n: number) => {
            const logs = await run(kwokctl, ['--name', name, 'logs', component], env0, { timeoutMs: 20_000 }).catch((e: Error) => ({
              stdout: '',
              stderr: e.message,
            }));
            return `${component}'s last lines:\n${`${logs.stdout}\n${logs.stderr}`.trim().split('\n').slice(-n).join('\n')}`;
          };
          throw new Error(`${err.message}\n(API server port ${apiPort})\n${await tail('kwok-controller', 30)}\n${await tail('kube-apiserver', 20)}`);
        });
    }
    // Pods need the default ServiceAccount (created by kube-controller-manager) to pass admission.
    for (;;) {
      const r = await run(kubectlBin, ['--kubeconfig', kubeconfig, 'get', 'serviceaccount', 'default', '-n', 'default'], env);
      if (r.code === 0) break;
      if (Date.now() > deadline) throw new Error(`default ServiceAccount never appeared: ${r.stderr.trim()}`);
      await sleep(250);
    }

    if (o.realNode) {
      realNode = await startRealNode(
        { name, kubectl, apply },
        { pkiDir: join(clusterDir, 'pki'), apiPort: Number(apiPort), storageClassName: o.storageClassName },
        { ...o.realNode, timeoutMs: o.realNode.timeoutMs ?? Math.max(30_000, deadline - Date.now()) },
      );
    }

    return {
      name,
      kubeconfig,
      context,
      binDir: paths.binDir,
      env,
      nodeNames,
      versions: paths.versions,
      kubectl,
      apply,
      ...(realNode ? { realNode } : {}),
      restartKwokController: () => restartKwokController(kwokctl, name, clusterDir, env0, 60_000),
      stop,
    };
  } catch (err) {
    const logs = join(clusterDir, 'logs');
    await stop();
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `startKubeCluster(${name}) failed: ${e.message}\n(component logs were under ${logs})`;
    throw e;
  }
}

/**
 * kwokctl configuration lines for a cluster with a real node: kwok fakes only the nodes annotated for it; the API
 * server reaches kubelets with the admin certificate (checking their serving certificates against the cluster CA)
 * at their InternalIP, allocates Services from REAL_NODE_SERVICE_CIDR and serves MutatingAdmissionPolicy (beta in
 * 1.34, off by default) for steerNamespaceToRealNode().
 */
function realNodeControlPlane(pki: string): string[] {
  const args: [string, string][] = [
    ['kubelet-client-certificate', join(pki, 'admin.crt')],
    ['kubelet-client-key', join(pki, 'admin.key')],
    ['kubelet-certificate-authority', join(pki, 'ca.crt')],
    ['kubelet-preferred-address-types', 'InternalIP'],
    ['service-cluster-ip-range', REAL_NODE_SERVICE_CIDR],
  ];
  return [
    '  kubeFeatureGates: MutatingAdmissionPolicy=true',
    '  kubeRuntimeConfig: admissionregistration.k8s.io/v1beta1=true',
    'componentsPatches:',
    '- name: kwok-controller',
    '  extraArgs:',
    '  - {key: manage-all-nodes, value: "false", override: true}',
    '  - {key: manage-nodes-with-annotation-selector, value: "kwok.x-k8s.io/node=fake"}',
    '- name: kube-apiserver',
    '  extraArgs:',
    ...args.map(([k, v]) => `  - {key: ${k}, value: ${JSON.stringify(v)}}`),
  ];
}

export interface ImagePullBackOffStageOptions {
  /** Stage object name. Default "learnflow-pod-image-pull-backoff". */
  name?: string;
  /** Pods carrying this label value get the fault. Default FAULT_LABEL. */
  labelKey?: string;
  /** Default "ImagePullBackOff". */
  labelValue?: string;
}

/**
 * A kwok.x-k8s.io/v1alpha1 Stage: a new pod carrying `<labelKey>=<labelValue>` gets hostIP/podIP, phase
 * Pending, Ready/ContainersReady False and every container waiting with reason ImagePullBackOff, like a
 * kubelet that cannot pull the image. It has weight 1 while the default pod-ready stage has weight 0, so
 * kwok always picks it for matching pods; once podIP is set neither stage matches again. Other pods are
 * unaffected. The label must be on the pod when it is created (pod template labels).
 */
export function imagePullBackOffStage(opts: ImagePullBackOffStageOptions = {}): string {
  const name = opts.name ?? 'learnflow-pod-image-pull-backoff';
  const key = opts.labelKey ?? FAULT_LABEL;
  const value = opts.labelValue ?? 'ImagePullBackOff';
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  weight: 1
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
    - key: '.metadata.labels[${JSON.stringify(key)}]'
      operator: 'In'
      values:
      - ${JSON.stringify(value)}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        reason: ContainersNotReady
        status: "False"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        reason: ContainersNotReady
        status: "False"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        imageID: ""
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            reason: ImagePullBackOff
            message: {{ printf "Back-off pulling image %s" .image | Quote }}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Pending
      startTime: {{ $now | Quote }}
`;
}

/**
 * Install the ImagePullBackOff stage into a running cluster. Returns the pod labels that trigger it:
 * put them on a pod template (or pod) to get a container waiting with reason ImagePullBackOff.
 */
export async function installImagePullBackOffStage(
  cluster: Pick<KubeCluster, 'apply'>,
  opts: ImagePullBackOffStageOptions = {},
): Promise<{ stage: string; labels: Record<string, string> }> {
  const stage = opts.name ?? 'learnflow-pod-image-pull-backoff';
  await cluster.apply(imagePullBackOffStage(opts));
  return { stage, labels: { [opts.labelKey ?? FAULT_LABEL]: opts.labelValue ?? 'ImagePullBackOff' } };
}

/** The poller lives in poll.ts; re-exported for the cluster tests that import it from here. */
export { waitFor } from './poll.js';
