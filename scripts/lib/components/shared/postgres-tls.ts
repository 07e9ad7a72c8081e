// --tls: PostgreSQL serves SSL with a certificate the kit generates once (openssl) and keeps in the Secret
// postgresql-tls; the clients' Secrets then say sslmode=require. The private key never appears in argv or logs:
// openssl writes it to a private temporary folder we read and delete.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Ctx, StepCtx } from '../../run/context.js';
import { EnvironmentError, UsageError } from '../../core/errors.js';
import { type Manifest } from '../../kube/manifests.js';
import { readSecret } from '../../kube/secrets.js';

export const TLS_SECRET = 'postgresql-tls';
export const TLS_MOUNT = '/var/lib/postgresql/tls';
export const CERT_DAYS = 825;

export interface TlsMaterial {
  cert: string;
  key: string;
}

/** Names a client may use: the Service in all its forms, and the local end of a port-forward. */
export function certificateNames(namespace: string): { dns: string[]; ips: string[] } {
  return {
    dns: ['postgresql', `postgresql.${namespace}`, `postgresql.${namespace}.svc`, `postgresql.${namespace}.svc.cluster.local`, 'localhost'],
    ips: ['127.0.0.1'],
  };
}

export async function generateCertificate(ctx: Ctx, namespace: string): Promise<TlsMaterial> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lf-tls-'));
  try {
    const { dns, ips } = certificateNames(namespace);
    const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(',');
    await ctx
      .exec(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          String(CERT_DAYS),
          '-subj',
          `/CN=postgresql.${namespace}.svc`,
          '-addext',
          `subjectAltName=${san}`,
          '-keyout',
          path.join(dir, 'tls.key'),
          '-out',
          path.join(dir, 'tls.crt'),
        ],
        { timeoutMs: 30_000 },
      )
      .catch((err: unknown) => {
        if (err instanceof EnvironmentError)
          throw new EnvironmentError('--tls needs openssl to generate the certificate', {
            fix: 'install openssl (apt install openssl / brew install openssl)',
            docs: 'missing-tools',
          });
        throw err;
      });
    return { cert: readFileSync(path.join(dir, 'tls.crt'), 'utf8'), key: readFileSync(path.join(dir, 'tls.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The stored certificate, or undefined when TLS was never turned on. */
export async function readTls(ctx: Ctx): Promise<TlsMaterial | undefined> {
  const s = await readSecret(ctx, TLS_SECRET);
  const cert = s?.get('tls.crt');
  const key = s?.get('tls.key');
  return cert && key ? { cert, key } : undefined;
}

export function renderTlsSecret(namespace: string, tls: TlsMaterial): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: TLS_SECRET,
      namespace,
      labels: { 'app.kubernetes.io/name': 'postgresql', 'app.kubernetes.io/part-of': 'learnflow', 'app.kubernetes.io/managed-by': 'learnflow-kit' },
    },
    stringData: { 'tls.crt': tls.cert, 'tls.key': tls.key },
  };
}

/** Turns SSL on in the rendered StatefulSet: the Secret mounted 0640 (PostgreSQL accepts a root-owned key readable by its group). */
export function withTls(manifests: Manifest[]): Manifest[] {
  return manifests.map((m) => {
    if (m.kind !== 'StatefulSet') return m;
    const copy = structuredClone(m) as Manifest & {
      spec: { template: { spec: { containers: { args: string[]; volumeMounts: object[] }[]; volumes: object[] } } };
    };
    const pod = copy.spec.template.spec;
    const c = pod.containers[0]!;
    c.args = [...c.args, '-c', 'ssl=on', '-c', `ssl_cert_file=${TLS_MOUNT}/tls.crt`, '-c', `ssl_key_file=${TLS_MOUNT}/tls.key`];
    c.volumeMounts = [...c.volumeMounts, { name: 'tls', mountPath: TLS_MOUNT, readOnly: true }];
    pod.volumes = [...pod.volumes, { name: 'tls', secret: { secretName: TLS_SECRET, defaultMode: 0o640 } }];
    return copy;
  });
}

/** Whether a rendered or live StatefulSet serves SSL (its container args carry ssl=on). */
export function statefulSetServesTls(sts: unknown): boolean {
  const c = (sts as { spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } } | undefined)?.spec?.template?.spec?.containers?.[0];
  return (c?.args ?? []).includes('ssl=on');
}

/** TLS for this deploy: --tls turns it on, --no-tls off, neither keeps what the live StatefulSet serves. */
export function chooseTls(flags: { tls?: boolean; noTls?: boolean }, live: boolean | undefined): { on: boolean; why: string } {
  if (flags.tls && flags.noTls) throw new UsageError('--tls and --no-tls contradict each other: give one');
  if (flags.tls) return { on: true, why: live ? 'on (--tls; it already was)' : 'turned on (--tls)' };
  if (flags.noTls) return { on: false, why: live ? 'turned off (--no-tls)' : 'off (--no-tls; it already was)' };
  if (live) return { on: true, why: 'on, as deployed (--no-tls turns it off)' };
  return { on: false, why: live === undefined ? 'off (--tls turns it on)' : 'off, as deployed (--tls turns it on)' };
}

/**
 * On clients' Secrets that hold a libpq connection string to this PostgreSQL (the Dapr state store's, the services'):
 * when TLS is turned on or off, deploy-postgres sets their sslmode to match (require / prefer), so no client that
 * insists on SSL faces a server that stopped serving it.
 */
export const SSLMODE_FOLLOWS_LABEL = 'learnflow.dev/postgres-sslmode';

/** The connection string with its sslmode set; unchanged when it already says so. */
export function withSslMode(connectionString: string, mode: 'require' | 'prefer'): string {
  return /\bsslmode=\S+/.test(connectionString) ? connectionString.replace(/\bsslmode=\S+/, `sslmode=${mode}`) : `${connectionString} sslmode=${mode}`;
}

/** TLS was turned on or off: clients that declared their connection string (label) get the matching sslmode. */
export async function syncClientSslModes(step: StepCtx, tlsOn: boolean): Promise<void> {
  const mode = tlsOn ? 'require' : 'prefer';
  const secrets = await step.kube.list<{ metadata: { name: string }; data?: Record<string, string> }>('secret', {
    selector: `${SSLMODE_FOLLOWS_LABEL}=follow`,
  });
  for (const secret of secrets) {
    const encoded = secret.data?.connectionString;
    if (!encoded) continue;
    const before = Buffer.from(encoded, 'base64').toString('utf8');
    step.secrets.add(before);
    const after = withSslMode(before, mode);
    if (after === before) continue;
    step.secrets.add(after);
    // The patch goes through a private file: the connection string holds a password, which must not reach argv.
    const encodedAfter = Buffer.from(after).toString('base64');
    step.secrets.add(encodedAfter);
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-patch-'));
    try {
      const file = path.join(dir, 'patch.json');
      writeFileSync(file, JSON.stringify({ data: { connectionString: encodedAfter } }), { mode: 0o600 });
      await step.kube.run(['patch', 'secret', secret.metadata.name, '-n', step.config.namespace, '--type', 'merge', '--patch-file', file], { quiet: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    step.change(`secret/${secret.metadata.name}`, `sslmode=${mode}`);
    step.log.info(`secret/${secret.metadata.name}: sslmode=${mode} (PostgreSQL TLS ${tlsOn ? 'on' : 'off'}); restart the apps that use it to pick it up`);
  }
}
