// The real node of the test substrate: kubelet + containerd + CNI + kube-proxy + CoreDNS beside the KWOK nodes
// (test/support/real-node.ts). Needs `bash test/substrate/provision.sh` (fails loudly otherwise, never skips).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freeLocalPort } from '../../scripts/lib/run/port-forward.js';
import { waitFor, type KubeCluster } from '../support/kube-cluster.js';
import { DAPR_PROBE_LABEL, steerNamespaceToRealNode, type RealNode } from '../support/real-node.js';
import { sharedCluster } from '../support/shared-cluster.js';

const T = { timeout: 120_000 };
const NS = 'rn';

interface PodJson {
  spec: { nodeName?: string; nodeSelector?: Record<string, string> };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

describe('real node (kubelet + containerd beside the KWOK nodes)', () => {
  const getCluster = sharedCluster({ name: 'realnode', realNode: true }, async (c) => {
    await c.kubectl(['create', 'namespace', NS]);
    await waitFor(
      'the default ServiceAccount in ' + NS,
      async () => (await c.kubectl(['get', 'serviceaccount', 'default', '-n', NS]).catch(() => '')) || undefined,
    );
  });
  let cluster: KubeCluster & { realNode: RealNode };
  let node: RealNode;
  beforeAll(() => {
    cluster = getCluster();
    node = cluster.realNode;
  });

  const json = async <J>(args: string[]): Promise<J> => JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as J;
  const podSpec = (spec: object) => ({
    ...node.placement,
    enableServiceLinks: false,
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 0,
    ...spec,
  });
  const waitReady = (name: string, ns = NS, timeoutMs = 60_000) =>
    cluster.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', ns, `--timeout=${timeoutMs / 1000}s`], { timeoutMs: timeoutMs + 5_000 });
  const sh = (pod: string, script: string, ns = NS) =>
    cluster.kubectl(['exec', '-n', ns, pod, '--', pod === 'client' ? 'bash' : 'sh', '-c', script], { timeoutMs: 30_000 });

  it('registers Ready beside the KWOK node, run by its kubelet (kwok leaves it alone)', T, async () => {
    const n = await json<{
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { taints?: { key: string; effect: string }[] };
      status: {
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        addresses: { type: string; address: string }[];
        conditions: { type: string; status: string }[];
      };
    }>(['get', 'node', node.name]);
    expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(n.status.nodeInfo.kubeletVersion).toBe(`v${cluster.versions.KUBE_VERSION}`);
    expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\./);
    expect(n.status.addresses).toContainEqual({ type: 'InternalIP', address: node.ip });
    expect(node.ip).not.toMatch(/^127\./);
    expect(n.metadata.annotations?.['kwok.x-k8s.io/node']).toBeUndefined();
    expect(n.metadata.labels['learnflow.test/node']).toBe('real');
    expect(n.spec.taints?.map((t) => `${t.key}:${t.effect}`)).toContain('learnflow.test/real-node:NoSchedule');
    const kwok = await json<{ status: { conditions: { type: string; status: string }[] } }>(['get', 'node', 'kwok-node-0']);
    expect(kwok.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('runs a pod as its declared uid with a passing readiness probe; logs, exec and port-forward go through the API server', T, async () => {
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: NS, labels: { app: 'web' } },
        spec: podSpec({
          securityContext: { runAsUser: 1234, runAsGroup: 1234, runAsNonRoot: true },
          containers: [
            {
              name: 'web',
              image: node.images.busybox,
              imagePullPolicy: 'Never',
              command: [
                'sh',
                '-c',
                'echo "started as $(id -u):$(id -g)"; mkdir -p /tmp/www && echo hello-from-the-real-node > /tmp/www/index.html && exec httpd -f -v -p 8080 -h /tmp/www',
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/index.html', port: 8080 }, periodSeconds: 1 },
            },
          ],
        }),
      }),
    );
    await waitReady('web');
    const pod = await json<PodJson>(['get', 'pod', 'web', '-n', NS]);
    expect(pod.spec.nodeName).toBe(node.name);
    expect(pod.status.podIP).toMatch(new RegExp(`^${node.podCidr.split('.').slice(0, 3).join('\\.')}\\.`));

    expect(await cluster.kubectl(['logs', '-n', NS, 'web'])).toContain('started as 1234:1234');
    expect((await cluster.kubectl(['exec', '-n', NS, 'web', '--', 'id', '-u'])).trim()).toBe('1234');

    const port = await freeLocalPort();
    const pf = spawn(join(cluster.binDir, 'kubectl'), ['port-forward', '-n', NS, 'pod/web', `${port}:8080`, '--address', '127.0.0.1'], {
      env: cluster.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('port-forward did not start')), 20_000);
        pf.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('Forwarding from')) {
            clearTimeout(timer);
            resolve();
          }
        });
        pf.on('exit', (code) => reject(new Error(`port-forward exited ${code}`)));
      });
      const body = await new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/index.html', timeout: 10_000 }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      expect(body.trim()).toBe('hello-from-the-real-node');
    } finally {
      pf.kill();
    }
  });

  it('resolves Service names through CoreDNS (cluster.local only) and routes ClusterIPs through kube-proxy', T, async () => {
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: NS },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
      }),
    );
    // A Debian userland (the redis stand-in's) for glibc's resolver; busybox-static's own nslookup below.
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'client', namespace: NS },
        spec: podSpec({
          securityContext: { runAsUser: 4321, runAsNonRoot: true },
          containers: [{ name: 'c', image: node.images.redis, imagePullPolicy: 'Never', command: ['sleep', '3600'] }],
        }),
      }),
    );
    await waitReady('client');
    const svc = await json<{ spec: { clusterIP: string } }>(['get', 'service', 'web', '-n', NS]);
    const resolv = await sh('client', 'cat /etc/resolv.conf');
    expect(resolv).toContain(`nameserver ${node.dnsIp}`);
    expect(resolv).toContain(`search ${NS}.svc.cluster.local svc.cluster.local cluster.local`);
    const lookup = await waitFor(
      'web.rn.svc.cluster.local in CoreDNS',
      async () => {
        const out = await sh('web', `nslookup web.${NS}.svc.cluster.local ${node.dnsIp}`).catch(() => '');
        return out.includes(svc.spec.clusterIP) ? out : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(lookup).toContain(svc.spec.clusterIP);
    // The short name through the search path (glibc), the ClusterIP through kube-proxy's rules, to the pod.
    expect((await sh('client', 'getent hosts web')).trim().split(/\s+/)).toEqual([svc.spec.clusterIP, `web.${NS}.svc.cluster.local`]);
    const body = await waitFor(
      'http://web/ from the client pod',
      async () =>
        (await sh('client', `exec 3<>/dev/tcp/web/80 && printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3; true`).catch(() => '')) || undefined,
      { timeoutMs: 20_000 },
    );
    expect(body.trim().split('\n').pop()).toBe('hello-from-the-real-node');
    // Nothing but cluster.local: no upstream forwarding.
    await expect(sh('web', `nslookup -timeout=2 registry.npmjs.org ${node.dnsIp}`)).rejects.toThrow(/REFUSED|can't find|exit code 1/i);
  });

  it('binds a claim on the default StorageClass to a hostPath volume of the node, writable by a non-root uid', T, async () => {
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: 'data', namespace: NS },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'writer', namespace: NS },
            spec: podSpec({
              securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999, runAsNonRoot: true },
              volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
              containers: [
                {
                  name: 'w',
                  image: node.images.busybox,
                  imagePullPolicy: 'Never',
                  command: ['sh', '-c', 'echo written-by-$(id -u) > /data/proof && sleep 3600'],
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
            }),
          },
        ],
      }),
    );
    await waitReady('writer');
    const pvc = await json<{ status: { phase: string }; spec: { volumeName: string; storageClassName: string } }>(['get', 'pvc', 'data', '-n', NS]);
    expect(pvc.status.phase).toBe('Bound');
    expect(pvc.spec.storageClassName).toBe('standard');
    expect(pvc.spec.volumeName).toMatch(/^real-pv-/);
    expect((await sh('writer', 'cat /data/proof')).trim()).toBe('written-by-999');
    // On the node: the hostPath directory (mode 0777, as kind's local-path provisioner makes them) holds the file.
    const pv = await json<{ spec: { hostPath: { path: string } } }>(['get', 'pv', pvc.spec.volumeName]);
    expect(statSync(pv.spec.hostPath.path).mode & 0o777).toBe(0o777);
    expect(readdirSync(pv.spec.hostPath.path)).toContain('proof');
    expect(statSync(join(pv.spec.hostPath.path, 'proof')).uid).toBe(999);
  });

  it('drops what a pod sends outside the pod and Service ranges (no masquerade, no route out)', T, async () => {
    const counter = async () => {
      const out = await node.netnsExec(['iptables', '-w', '-t', 'mangle', '-L', 'LEARNFLOW-EGRESS', '-v', '-x', '-n']);
      const drop = out.split('\n').find((l) => /\bDROP\b/.test(l));
      return Number(drop?.trim().split(/\s+/)[0] ?? NaN);
    };
    const before = await counter();
    expect(before).not.toBeNaN();
    // The relay to the API server listens on this machine's end of the node's link: the node's own processes
    // reach it, a pod must not.
    const apiPort = new URL((await cluster.kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim()).port;
    const r = await sh('client', `timeout 3 bash -c 'exec 3<>/dev/tcp/${node.hostIp}/${apiPort}' && echo CONNECTED || echo BLOCKED`);
    expect(r.trim()).toBe('BLOCKED');
    expect(await counter()).toBeGreaterThan(before);
    // The node's namespace has no default route, and nothing masquerades the pod range.
    expect(await node.netnsExec(['ip', 'route', 'show', 'default'])).toBe('');
    const nat = await node.netnsExec(['iptables', '-w', '-t', 'nat', '-S']);
    expect(nat).not.toMatch(new RegExp(`-s ${node.podCidr.replace(/\./g, '\\.')}.*MASQUERADE`));
  });

  it('steers a namespace onto the real node (kit manifests unchanged); the probe Job and dapr-system stay on KWOK', T, async () => {
    await steerNamespaceToRealNode(cluster, 'steered');
    await cluster.kubectl(['create', 'namespace', 'steered']);
    await cluster.kubectl(['create', 'namespace', 'dapr-system']);
    const pod = (ns: string, name: string, labels: Record<string, string> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: node.images.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }],
      },
    });
    await waitFor(
      'the default ServiceAccounts',
      async () =>
        ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'steered']).catch(() => '')) &&
          (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'dapr-system']).catch(() => ''))) ||
        undefined,
    );
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [pod('steered', 'stack'), pod('steered', 'probe', { [DAPR_PROBE_LABEL]: 'p1' }), pod('dapr-system', 'operator')],
      }),
    );
    await waitReady('stack', 'steered');
    await waitReady('probe', 'steered');
    await waitReady('operator', 'dapr-system');
    const nodeOf = async (ns: string, name: string) => (await json<PodJson>(['get', 'pod', name, '-n', ns])).spec.nodeName;
    expect(await nodeOf('steered', 'stack')).toBe(node.name);
    expect(await nodeOf('steered', 'probe')).toBe('kwok-node-0');
    expect(await nodeOf('dapr-system', 'operator')).toBe('kwok-node-0');
  });
});
