import { describe, expect, it } from 'vitest';
import { type Manifest } from '../../scripts/lib/kube/manifests.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import { POSTGRES_RESOURCES, renderNamespace, renderPostgres } from '../../scripts/lib/components/postgres/manifests.js';
import { chooseTls, statefulSetServesTls, withSslMode, withTls } from '../../scripts/lib/components/shared/postgres-tls.js';

const manifests = renderPostgres('learnflow', 'pw-under-test');
const byKind = (kind: string, name?: string) => manifests.find((m) => m.kind === kind && (!name || m.metadata.name === name)) as Manifest & Record<string, any>;
const sts = byKind('StatefulSet');
const pod = sts.spec.template.spec;
const container = pod.containers[0];

describe('PostgreSQL manifests', () => {
  it('pins the official image from k8s/versions.json, never latest', () => {
    const v = readVersions().postgres;
    expect(container.image).toBe(`${v.image}:${v.version}`);
    expect(container.image).toMatch(/^postgres:\d+\.\d+/);
    expect(container.image).not.toMatch(/latest|bitnami/);
    expect(Number(v.version.split('.')[0])).toBeLessThan(18); // 18 moved PGDATA: field-notes
  });

  it('a node drain stops at the one PostgreSQL instead of taking it down (a PodDisruptionBudget of its pod)', () => {
    const pdb = byKind('PodDisruptionBudget', 'postgresql');
    expect(pdb.spec.maxUnavailable).toBe(0);
    expect(pdb.spec.selector).toEqual(sts.spec.selector);
  });

  it('asks for a 5Gi volume with PGDATA in a subdirectory (lost+found)', () => {
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('5Gi');
    const mount = container.volumeMounts.find((m: any) => m.name === 'data').mountPath;
    const pgdata = container.env.find((e: any) => e.name === 'PGDATA').value;
    expect(pgdata.startsWith(mount + '/')).toBe(true);
  });

  it('sets the resources of seed 000', () => {
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
    expect(POSTGRES_RESOURCES.storage).toBe('5Gi');
  });

  it('runs as the image postgres user under Pod Security "restricted"', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('has a readiness probe that stays false during initdb (TCP on 127.0.0.1) and a liveness probe', () => {
    expect(container.readinessProbe.exec.command.slice(0, 3)).toEqual(['pg_isready', '-h', '127.0.0.1']);
    expect(container.livenessProbe.tcpSocket.port).toBe('postgresql');
  });

  it('takes the password from the Secret, never inline, and enables pg_stat_statements', () => {
    const pw = container.env.find((e: any) => e.name === 'POSTGRES_PASSWORD');
    expect(pw.valueFrom.secretKeyRef).toEqual({ name: 'postgresql-credentials', key: 'password' });
    expect(JSON.stringify(sts)).not.toContain('pw-under-test');
    expect(container.args.join(' ')).toContain('shared_preload_libraries=pg_stat_statements');
  });

  it('exposes postgresql:5432 and a headless Service matching the pod labels', () => {
    const svc = byKind('Service', 'postgresql');
    expect(svc.spec.ports[0].port).toBe(5432);
    expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels);
    expect(byKind('Service', 'postgresql-hl').spec.clusterIP).toBe('None');
    expect(sts.spec.serviceName).toBe('postgresql-hl');
  });

  it('labels the namespace for Pod Security: enforce baseline, warn and audit restricted', () => {
    const ns = renderNamespace('learnflow')[0]!;
    expect(ns.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
  });
});

describe('PostgreSQL NetworkPolicy', () => {
  it('admits only pods of the namespace, on 5432, and can be turned off', () => {
    const np = renderPostgres('learnflow', 'x').find((m) => m.kind === 'NetworkPolicy') as Manifest & Record<string, any>;
    expect(np.spec.podSelector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress).toEqual([{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
    expect(renderPostgres('learnflow', 'x', { networkPolicies: false }).some((m) => m.kind === 'NetworkPolicy')).toBe(false);
  });
});

describe('PostgreSQL with --tls', () => {
  it('mounts the TLS Secret 0640 and turns ssl on; without --tls nothing of it', async () => {
    const { withTls, renderTlsSecret, TLS_MOUNT } = await import('../../scripts/lib/components/shared/postgres-tls.js');
    const tlsSts = withTls(renderPostgres('learnflow', 'x')).find((m) => m.kind === 'StatefulSet') as Record<string, any>;
    const c = tlsSts.spec.template.spec.containers[0];
    expect(c.args.join(' ')).toContain(`-c ssl=on -c ssl_cert_file=${TLS_MOUNT}/tls.crt -c ssl_key_file=${TLS_MOUNT}/tls.key`);
    expect(tlsSts.spec.template.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'postgresql-tls', defaultMode: 0o640 } });
    expect(c.volumeMounts).toContainEqual({ name: 'tls', mountPath: TLS_MOUNT, readOnly: true });
    expect(JSON.stringify(sts)).not.toContain('ssl=on');
    expect(renderTlsSecret('learnflow', { cert: 'C', key: 'K' }).type).toBe('kubernetes.io/tls');
  });
});

describe('TLS is remembered', () => {
  it('--tls turns it on, --no-tls off, neither keeps what is deployed', () => {
    expect(chooseTls({}, undefined)).toMatchObject({ on: false });
    expect(chooseTls({}, true)).toMatchObject({ on: true, why: 'on, as deployed (--no-tls turns it off)' });
    expect(chooseTls({}, false)).toMatchObject({ on: false, why: 'off, as deployed (--tls turns it on)' });
    expect(chooseTls({ tls: true }, false)).toMatchObject({ on: true, why: 'turned on (--tls)' });
    expect(chooseTls({ noTls: true }, true)).toMatchObject({ on: false, why: 'turned off (--no-tls)' });
    expect(() => chooseTls({ tls: true, noTls: true }, true)).toThrow(/contradict/);
  });

  it("reads the deployed state from the StatefulSet, and sets a client's sslmode", () => {
    const plain = renderPostgres('learnflow', 'pw');
    expect(statefulSetServesTls(plain.find((m) => m.kind === 'StatefulSet'))).toBe(false);
    expect(statefulSetServesTls(withTls(plain).find((m) => m.kind === 'StatefulSet'))).toBe(true);
    expect(withSslMode('host=h password=x sslmode=require connect_timeout=10', 'prefer')).toBe('host=h password=x sslmode=prefer connect_timeout=10');
    expect(withSslMode('host=h', 'require')).toBe('host=h sslmode=require');
  });
});
