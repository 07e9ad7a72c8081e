/**
 * A REAL node beside the KWOK nodes: kubelet 1.34 + containerd + runc + CNI bridge + kube-proxy + CoreDNS,
 * started by test/substrate/real-node.sh in a network namespace of its own (provisioned by
 * test/substrate/provision-node.sh and provision-images.sh; docs/testing-substrate.md, "A real node").
 *
 * Start it with the cluster: `startKubeCluster({ realNode: true })` (cluster.realNode is then set; the cluster's
 * stop() stops it first). Pods land on it only when they ask: it is tainted `learnflow.test/real-node=true:NoSchedule`
 * and labelled `learnflow.test/node=real`; `realNode.placement` is the nodeSelector + toleration to put in a pod
 * spec, and steerNamespaceToRealNode() adds them to every new pod of a namespace (the kit's manifests unchanged).
 *
 * Images are never pulled: the node's containerd holds the pause image, a busybox image for tests, and stand-ins
 * for the kit's postgres, apache/kafka and redis images under the references of k8s/versions.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forgetOnExit, runProcess, stopOnExit } from './process.js';

const SCRIPT = fileURLToPath(new URL('../substrate/real-node.sh', import.meta.url));
const RUN_ROOT = '/run/learnflow-real-node';

/** Label every real node carries (its nodeSelector). */
export const REAL_NODE_LABEL = { key: 'learnflow.test/node', value: 'real' } as const;
/** Taint that keeps every pod off the real node unless it tolerates it. */
export const REAL_NODE_TAINT = { key: 'learnflow.test/real-node', value: 'true', effect: 'NoSchedule' } as const;
/** Service range of clusters started with a real node (kube-proxy and the egress rule use it). */
export const REAL_NODE_SERVICE_CIDR = '10.96.0.0/16';
/** Pods carrying this label stay off the real node even in a steered namespace (the kit's Dapr probe Job). */
export const DAPR_PROBE_LABEL = 'learnflow.dev/dapr-probe';

export interface RealNodeOptions {
  /** Node name. Default "real-node". */
  name?: string;
  /** hostPath PersistentVolumes on the node (directories mode 0777). Default 10. */
  volumes?: number;
  /** Size of each of them. Default "20Gi". */
  volumeSize?: string;
  /** Budget for start + Ready, in ms. Default 90_000. */
  timeoutMs?: number;
}

export interface RealNodeImages {
  pause: string;
  busybox: string;
  postgres: string;
  /** postgres:15.x from Debian bookworm: the old major of the upgrade tests. */
  postgresFrom: string;
  kafka: string;
  redis: string;
}

export interface RealNode {
  name: string;
  /** 0..7: which set of addresses and names on this machine the node uses. */
  slot: number;
  /** The node's InternalIP (on its own veth, in its own network namespace). */
  ip: string;
  podCidr: string;
  serviceCidr: string;
  /** The kubelet's clusterDNS: CoreDNS serving cluster.local only. */
  dnsIp: string;
  /** Address of this machine's end of the node's veth (the API server's relay listens there). */
  hostIp: string;
  /** Full references of the images in the node's containerd (docker.io/... as the CRI names them). */
  images: RealNodeImages;
  /** What a pod spec needs to run here: put both into spec. */
  placement: { nodeSelector: Record<string, string>; tolerations: Record<string, string>[] };
  /** Directory with containerd.log, kubelet.log, kube-proxy.log, coredns.log, supervisor.log, socat.log. */
  logDir: string;
  /** Run a command in the node's network namespace (e.g. ['iptables', '-t', 'mangle', '-S']). Resolves stdout. */
  netnsExec(args: string[], timeoutMs?: number): Promise<string>;
  /** The last lines of a component's log (kubelet, containerd, kube-proxy, coredns, supervisor). */
  logTail(component: string, lines?: number): string;
  /** Kill the node's processes and remove its namespace, links and directories. Idempotent; never throws. */
  stop(): Promise<void>;
}

interface ClusterHandle {
  name: string;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  apply(manifest: string): Promise<string>;
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) out[m[1]] = m[2] ?? '';
  }
  return out;
}

function stopSync(slot: number): void {
  spawnSync('bash', [SCRIPT, 'stop', String(slot)], { stdio: 'ignore', timeout: 60_000 });
}

/** Stop the real nodes whose owning test process is gone. Cheap when there are none. Returns their names. */
export async function reapStaleRealNodes(): Promise<string[]> {
  const any =
    (existsSync(RUN_ROOT) && readdirSync(RUN_ROOT).length > 0) || (existsSync('/run/netns') && readdirSync('/run/netns').some((n) => n.startsWith('lf-node-')));
  if (!any) return [];
  const r = await runProcess('bash', [SCRIPT, 'reap'], { timeoutMs: 120_000 });
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Start a real node for a running cluster that startKubeCluster() prepared for it (kwok managing only the nodes
 * annotated for it, the API server's kubelet client certificate and Service range). startKubeCluster({ realNode })
 * calls this; call it yourself only with such a cluster.
 */
export async function startRealNode(
  cluster: ClusterHandle,
  ctx: { pkiDir: string; apiPort: number; storageClassName: string },
  opts: RealNodeOptions = {},
): Promise<RealNode> {
  const name = opts.name ?? 'real-node';
  const volumes = opts.volumes ?? 10;
  const volumeSize = opts.volumeSize ?? '20Gi';
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  const r = await runProcess(
    'bash',
    [
      SCRIPT,
      'start',
      '--cluster',
      cluster.name,
      '--pki',
      ctx.pkiDir,
      '--api-port',
      String(ctx.apiPort),
      '--owner',
      String(process.pid),
      '--node-name',
      name,
      '--service-cidr',
      REAL_NODE_SERVICE_CIDR,
      '--volumes',
      String(volumes),
    ],
    { timeoutMs },
  );
  if (r.code !== 0) throw new Error(`real-node.sh start failed (exit ${r.code}):\n${r.stderr.trim().slice(-4000)}`);
  const info = parseInfo(r.stdout);
  const slot = Number(info.SLOT);
  const key = `real-node-${slot}`;
  stopOnExit(key, () => stopSync(slot));
  let stopped = false;
  const logDir = info.LOG_DIR ?? '';
  const logTail = (component: string, lines = 40): string => {
    try {
      return readFileSync(join(logDir, `${component}.log`), 'utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } catch {
      return `(no ${component}.log)`;
    }
  };
  const node: RealNode = {
    name,
    slot,
    ip: info.NODE_IP ?? '',
    podCidr: info.POD_CIDR ?? '',
    serviceCidr: info.SERVICE_CIDR ?? REAL_NODE_SERVICE_CIDR,
    dnsIp: info.DNS_IP ?? '',
    hostIp: info.HOST_IP ?? '',
    images: {
      pause: info.IMAGE_pause ?? '',
      busybox: info.IMAGE_busybox ?? '',
      postgres: info.IMAGE_postgres ?? '',
      postgresFrom: info.IMAGE_postgres_from ?? '',
      kafka: info.IMAGE_kafka ?? '',
      redis: info.IMAGE_redis ?? '',
    },
    placement: {
      nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
    },
    logDir,
    async netnsExec(args, ms = 30_000) {
      const res = await runProcess('bash', [SCRIPT, 'exec', String(slot), ...args], { timeoutMs: ms });
      if (res.code !== 0) throw new Error(`${args.join(' ')} in the node's namespace failed (exit ${res.code}): ${res.stderr.trim()}`);
      return res.stdout;
    },
    logTail,
    async stop() {
      if (stopped) return;
      stopped = true;
      // The Node object first, while the API server can still reach the kubelet's address.
      await cluster.kubectl(['delete', 'node', name, '--wait=false', '--ignore-not-found'], { timeoutMs: 10_000 }).catch(() => undefined);
      await runProcess('bash', [SCRIPT, 'stop', String(slot)], { timeoutMs: 60_000 }).catch(() => undefined);
      forgetOnExit(key);
    },
  };
  try {
    for (const [k, v] of Object.entries(node.images)) if (!v) throw new Error(`the node's containerd has no ${k} image (run test/substrate/provision.sh)`);
    if (volumes > 0) {
      await cluster.apply(
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: Array.from({ length: volumes }, (_, i) => realNodeVolume(node, `${info.VOLUME_DIR}/pv-${i}`, i, volumeSize, ctx.storageClassName)),
        }),
      );
    }
    const left = Math.max(5_000, deadline - Date.now());
    await cluster
      .kubectl(['wait', '--for=condition=Ready', `node/${name}`, `--timeout=${Math.ceil(left / 1000)}s`], { timeoutMs: left + 5_000 })
      .catch(async (err: Error) => {
        // Not registered yet: wait on it first, then on Ready.
        if (!/not found/i.test(err.message)) throw err;
        for (;;) {
          const n = await cluster.kubectl(['get', 'node', name, '-o', 'name']).catch(() => '');
          if (n.trim()) break;
          if (Date.now() > deadline) throw new Error(`node ${name} never registered`);
          await new Promise((res) => setTimeout(res, 500));
        }
        const rest = Math.max(5_000, deadline - Date.now());
        await cluster.kubectl(['wait', '--for=condition=Ready', `node/${name}`, `--timeout=${Math.ceil(rest / 1000)}s`], { timeoutMs: rest + 5_000 });
      });
    return node;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `real node ${name} (slot ${slot}) did not come up: ${e.message}\n--- kubelet.log ---\n${logTail('kubelet', 25)}\n--- containerd.log ---\n${logTail('containerd', 10)}`;
    await node.stop();
    throw e;
  }
}

/** A hostPath PersistentVolume on the real node's directory DIR (mode 0777), reachable only from that node. */
function realNodeVolume(node: RealNode, dir: string, i: number, size: string, storageClassName: string): object {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `real-pv-${String(i).padStart(3, '0')}`, labels: { 'learnflow.test/pv': 'real-node' } },
    spec: {
      capacity: { storage: size },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName,
      volumeMode: 'Filesystem',
      hostPath: { path: dir, type: 'Directory' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node.name] }] }] } },
    },
  };
}

/**
 * Every pod created from now on in `namespace` gets the real node's nodeSelector and toleration, except pods
 * labelled `learnflow.dev/dapr-probe` (the kit's Dapr probe: its sidecar cannot run here). A
 * MutatingAdmissionPolicy (admissionregistration.k8s.io/v1beta1, enabled in clusters started with a real node)
 * does it inside the API server: the kit's manifests stay as they are. Other namespaces (dapr-system) stay on the
 * KWOK nodes: the taint keeps them off. Call it before deploying; existing pods are not moved.
 */
export async function steerNamespaceToRealNode(cluster: Pick<ClusterHandle, 'apply' | 'kubectl'>, namespace: string): Promise<void> {
  const name = `learnflow-test-real-node-${namespace}`;
  // A namespace of our own shows when the policy is in force (the steered one may not exist yet: the kit creates it).
  const check = `${name}-check`.slice(0, 63);
  const t = REAL_NODE_TAINT;
  const sel = `${REAL_NODE_LABEL.key.replace('/', '~1')}`;
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1beta1',
    kind: 'MutatingAdmissionPolicy',
    metadata: { name },
    spec: {
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
      matchConditions: [{ name: 'not-the-dapr-probe', expression: `!has(object.metadata.labels) || !('${DAPR_PROBE_LABEL}' in object.metadata.labels)` }],
      failurePolicy: 'Fail',
      reinvocationPolicy: 'Never',
      mutations: [
        {
          patchType: 'JSONPatch',
          jsonPatch: {
            expression: `[
  has(object.spec.nodeSelector)
    ? JSONPatch{op: "add", path: "/spec/nodeSelector/${sel}", value: "${REAL_NODE_LABEL.value}"}
    : JSONPatch{op: "add", path: "/spec/nodeSelector", value: {"${REAL_NODE_LABEL.key}": "${REAL_NODE_LABEL.value}"}},
  has(object.spec.tolerations)
    ? JSONPatch{op: "add", path: "/spec/tolerations/-", value: Object.spec.tolerations{key: "${t.key}", operator: "Equal", value: "${t.value}", effect: "${t.effect}"}}
    : JSONPatch{op: "add", path: "/spec/tolerations", value: [Object.spec.tolerations{key: "${t.key}", operator: "Equal", value: "${t.value}", effect: "${t.effect}"}]}
]`,
          },
        },
      ],
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1beta1',
    kind: 'MutatingAdmissionPolicyBinding',
    metadata: { name },
    spec: {
      policyName: name,
      matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespace, check] }] } },
    },
  };
  await cluster.apply(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [policy, binding, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: check } }],
    }),
  );
  const pod = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'steering-check', namespace: check },
    spec: { containers: [{ name: 'c', image: 'steering-check' }] },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const out = await cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: pod }).catch((e: Error) => e.message);
    if (out.includes(`"${REAL_NODE_LABEL.key}": "${REAL_NODE_LABEL.value}"`)) return;
    if (Date.now() > deadline) throw new Error(`the MutatingAdmissionPolicy ${name} did not take effect within 30 s: ${out.slice(0, 2000)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}
