// The KWOK test substrate itself: a real API server/controllers/scheduler with simulated nodes.
// Needs `bash test/substrate/provision-kube.sh` (fails loudly otherwise, never skips).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installImagePullBackOffStage, nodeManifest, startKubeCluster, waitFor, type KubeCluster } from '../support/kube-cluster.js';

const T = { timeout: 180_000 };

interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  status: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { name: string; ready: boolean; state: { waiting?: { reason?: string } } }[];
  };
}

describe('kube substrate (kwok)', () => {
  let cluster: KubeCluster;
  let starting: Promise<KubeCluster> | undefined;

  beforeAll(async () => {
    starting = startKubeCluster({ name: 'substrate' });
    cluster = await starting;
  }, 180_000);

  // Also stops a cluster whose start outlived the beforeAll timeout.
  afterAll(async () => {
    const c = await starting?.catch(() => undefined);
    await c?.stop();
  }, 180_000);

  const json = async <J>(args: string[]): Promise<J> => JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as J;

  it('keeps what the API server sends to KWOK pod and node addresses on this machine (blackhole routes)', T, async () => {
    const { spawnSync } = await import('node:child_process');
    const node = JSON.parse(await cluster.kubectl(['get', 'nodes', '-o', 'json'])) as {
      items: { status: { addresses: { type: string; address: string }[] } }[];
    };
    const ip = node.items[0]!.status.addresses.find((a) => a.type === 'InternalIP')!.address;
    for (const address of [ip, '10.0.0.7']) {
      const r = spawnSync('ip', ['route', 'get', address], { encoding: 'utf8' });
      // A blackhole route: the kernel refuses to route it at all, so nothing leaves through the default gateway.
      expect(`${r.stdout}${r.stderr}`, address).not.toMatch(/\svia\s/);
      expect(r.status, address).not.toBe(0);
    }
  });

  it('serves the pinned Kubernetes version and uses the cached kubectl/helm', T, async () => {
    const v = await json<{ serverVersion: { gitVersion: string; major: string; minor: string } }>(['version']);
    expect(v.serverVersion.gitVersion).toBe(`v${cluster.versions.KUBE_VERSION}`);
    expect(v.serverVersion.gitVersion).not.toMatch(/^v0\.0\.0/);
    expect(v.serverVersion.minor).toBe(cluster.versions.KUBE_VERSION.split('.')[1]);
    expect(cluster.env.PATH?.split(':')[0]).toBe(cluster.binDir);
    expect(cluster.env.KUBECONFIG).toBe(cluster.kubeconfig);
    const nodes = await json<{ items: { metadata: { labels: Record<string, string> }; status: { allocatable: Record<string, string> } }[] }>(['get', 'nodes']);
    expect(nodes.items).toHaveLength(1);
    expect(nodes.items[0]?.metadata.labels.type).toBe('kwok');
    expect(nodes.items[0]?.status.allocatable).toMatchObject({ cpu: '4', memory: '8Gi', pods: '110' });
    const sc = await json<{ items: { metadata: { name: string; annotations?: Record<string, string> } }[] }>(['get', 'storageclass']);
    expect(sc.items.map((s) => s.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'])).toContain('true');
  });

  it('binds a StatefulSet claim through the real PV binder and makes its pod Ready', T, async () => {
    await cluster.kubectl(['create', 'namespace', 'sts']);
    await cluster.apply(`
apiVersion: v1
kind: Service
metadata: { name: db, namespace: sts }
spec: { clusterIP: None, selector: { app: db }, ports: [{ port: 5432 }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, namespace: sts }
spec:
  serviceName: db
  replicas: 1
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      containers:
      - name: db
        image: postgres:17.6
        resources: { requests: { cpu: 250m, memory: 512Mi } }
        volumeMounts: [{ name: data, mountPath: /var/lib/postgresql }]
  volumeClaimTemplates:
  - metadata: { name: data }
    spec:
      accessModes: [ReadWriteOnce]
      resources: { requests: { storage: 5Gi } }
`);
    await cluster.kubectl(['-n', 'sts', 'wait', '--for=jsonpath={.status.phase}=Bound', 'pvc/data-db-0', '--timeout=90s'], { timeoutMs: 100_000 });
    await cluster.kubectl(['-n', 'sts', 'rollout', 'status', 'statefulset/db', '--timeout=90s'], { timeoutMs: 100_000 });
    const pod = await json<PodJson>(['-n', 'sts', 'get', 'pod', 'db-0']);
    expect(pod.status.phase).toBe('Running');
    expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const pvc = await json<{ spec: { storageClassName: string; volumeName: string } }>(['-n', 'sts', 'get', 'pvc', 'data-db-0']);
    expect(pvc.spec.storageClassName).toBe('standard');
    expect(pvc.spec.volumeName).toMatch(/^kwok-pv-/);
  });

  it('completes a Job', T, async () => {
    await cluster.apply(`
apiVersion: batch/v1
kind: Job
metadata: { name: migrate, namespace: default }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: migrate, image: postgres:17.6, command: ['true'] }]
`);
    await cluster.kubectl(['wait', '--for=condition=complete', 'job/migrate', '--timeout=90s'], { timeoutMs: 100_000 });
    const job = await json<{ status: { succeeded?: number } }>(['get', 'job', 'migrate']);
    expect(job.status.succeeded).toBe(1);
  });

  it('enforces Pod Security admission (restricted rejects a privileged pod)', T, async () => {
    await cluster.apply(`
apiVersion: v1
kind: Namespace
metadata:
  name: restricted
  labels: { pod-security.kubernetes.io/enforce: restricted }
`);
    const err = await cluster
      .apply(
        `
apiVersion: v1
kind: Pod
metadata: { name: priv, namespace: restricted }
spec:
  containers:
  - name: c
    image: busybox:1.36
    securityContext: { privileged: true }
`,
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(/violates PodSecurity "restricted:/);
    expect(err?.message).toMatch(/privileged/);
  });

  it('reports Insufficient memory from the real scheduler', T, async () => {
    await cluster.apply(`
apiVersion: v1
kind: Pod
metadata: { name: huge, namespace: default }
spec:
  containers: [{ name: c, image: busybox:1.36, resources: { requests: { memory: 64Gi } } }]
`);
    const cond = await waitFor('PodScheduled=False on pod/huge', async () => {
      const p = await json<PodJson>(['get', 'pod', 'huge']);
      return p.status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(cond.reason).toBe('Unschedulable');
    expect(cond.message).toMatch(/Insufficient memory/);
  });

  it('puts labelled pods into ImagePullBackOff via a KWOK Stage, others still run', T, async () => {
    const { labels } = await installImagePullBackOffStage(cluster);
    const labelYaml = Object.entries(labels)
      .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
      .join(', ');
    await cluster.apply(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: broken, namespace: default }
spec:
  replicas: 3
  selector: { matchLabels: { app: broken } }
  template:
    metadata: { labels: { app: broken, ${labelYaml} } }
    spec: { containers: [{ name: app, image: bitnami/kafka:3.9 }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: fine, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: fine } }
  template:
    metadata: { labels: { app: fine } }
    spec: { containers: [{ name: app, image: apache/kafka:4.3.1 }] }
`);
    await cluster.kubectl(['rollout', 'status', 'deployment/fine', '--timeout=90s'], { timeoutMs: 100_000 });
    const pods = await waitFor(
      '3 broken pods in ImagePullBackOff',
      async () => {
        const list = await json<{ items: PodJson[] }>(['get', 'pods', '-l', 'app=broken']);
        const bad = list.items.filter((p) => p.status.containerStatuses?.[0]?.state.waiting?.reason === 'ImagePullBackOff');
        return bad.length === 3 ? bad : undefined;
      },
      { timeoutMs: 60_000 },
    );
    for (const p of pods) {
      expect(p.status.phase).toBe('Pending');
      expect(p.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    }
    // Still stuck a moment later (the stage does not flip to Running).
    await new Promise((r) => setTimeout(r, 2_000));
    const again = await json<{ items: PodJson[] }>(['get', 'pods', '-l', 'app=broken']);
    expect(again.items.every((p) => p.status.containerStatuses?.[0]?.state.waiting?.reason === 'ImagePullBackOff')).toBe(true);
    const deploy = await json<{ status: { readyReplicas?: number } }>(['get', 'deployment', 'broken']);
    expect(deploy.status.readyReplicas ?? 0).toBe(0);
  });

  // startKubeCluster's recovery when KWOK nodes are slow to be Ready: the restarted controller must take over.
  it('a restarted kwok controller makes a new node Ready and runs a new pod', T, async () => {
    const { oldPid, newPid } = await cluster.restartKwokController();
    expect(newPid).not.toBe(oldPid);
    expect(() => process.kill(oldPid, 0)).toThrow();
    await cluster.apply(JSON.stringify(nodeManifest('kwok-node-late', 1, '1', '1Gi', 10, cluster.versions.KUBE_VERSION)));
    await cluster.kubectl(['wait', '--for=condition=Ready', 'node/kwok-node-late', '--timeout=60s'], { timeoutMs: 70_000 });
    await cluster.apply(`
apiVersion: v1
kind: Pod
metadata: { name: after-restart, namespace: default }
spec:
  nodeName: kwok-node-late
  containers: [{ name: app, image: apache/kafka:4.3.1 }]
`);
    await cluster.kubectl(['wait', '--for=condition=Ready', 'pod/after-restart', '--timeout=60s'], { timeoutMs: 70_000 });
  });
});
