// A PostgreSQL major upgrade keeping every database and role (planned in major.ts). Each official image carries one
// major, so pg_upgrade (both majors' binaries side by side) is out: dump and restore.
//   1. dump     pg_dumpall in the running old pod (kubectl exec): roles with their verifiers, every database; held in
//               memory, never written to disk or printed
//   2. restore  psql with ON_ERROR_STOP in a one-off pod of the new image (postgresql-upgrade, not behind the
//               Service) on a new claim data-pg<major>-postgresql-0
//   3. verify   row checksums of every database and the roles identical on both servers; the admin and each service
//               log in to the new server with their Secret's password (over TCP: scram-sha-256)
//   4. switch   the one-off pod and the old StatefulSet go, the StatefulSet comes back on the new image and claim and
//               must be ready; the old claim is kept, annotated with what replaced it
// A failure in 1-3 deletes the one-off pod and the new claim (the old server never stopped); one in 4 puts the old
// StatefulSet back on its own claim. Either way the old version runs with its data, and the error says so.

import { CommandError, errorMessage, StepError } from '../../core/errors.js';
import { formatDuration } from '../../core/duration.js';
import type { StepCtx } from '../../run/context.js';
import type { Manifest } from '../../kube/manifests.js';
import { podReady, type PodJson } from '../../kube/pod-diagnosis.js';
import { waitForPod, waitForWorkload } from '../../run/rollout.js';
import { readSecrets } from '../../kube/secrets.js';
import { DB_NAME, DB_USER, SECRET_NAME } from '../shared/postgres-credentials.js';
import { PG_NAME, PG_POD, POSTGRES_SELECTOR } from '../shared/postgres-topology.js';
import { AS_SUPERUSER, execInPod, loginInPod, podDatabase, queryJsonInPod } from '../shared/postgres-pod.js';
import { DATA_LABEL, MAJOR_ANNOTATION, REPLACED_BY_ANNOTATION, refuseWithoutRoom, type MajorPlan } from './major.js';
import type { ServiceDatabase } from './service-databases.js';

const OLD_POD = PG_POD;
export const UPGRADE_POD = `${PG_NAME}-upgrade`;
/** The dump's last line: pg_dumpall writes it only when every database was dumped. */
const DUMPALL_COMPLETE = '-- PostgreSQL database cluster dump complete';
/** Test-only (documented in docs/testing-substrate.md): makes the restore fail after most of it ran. */
export const FAIL_RESTORE_ENV = 'LEARNFLOW_TEST_UPGRADE_FAIL_RESTORE';

type Upgrade = Extract<MajorPlan, { kind: 'upgrade' }>;

/** One line for an error: a command's own first line and the last line it wrote on stderr (psql's ERROR). */
function why(err: unknown): string {
  const first = errorMessage(err).split('\n')[0]!;
  const last = err instanceof CommandError ? err.stderrTail.trim().split('\n').pop() : undefined;
  return last && !first.includes(last) ? `${first}: ${last}` : first;
}

const DATABASES_SQL = `SELECT coalesce(json_agg(datname ORDER BY datname), '[]') FROM pg_database WHERE datallowconn AND NOT datistemplate`;
const SIZE_SQL = `SELECT to_json(sum(pg_database_size(datname))::bigint) FROM pg_database`;
const ROLES_SQL = `SELECT coalesce(json_agg(json_build_array(rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
  rolreplication, rolbypassrls, rolconnlimit, rolpassword) ORDER BY rolname), '[]') FROM pg_authid WHERE rolname !~ '^pg_'`;
/** Each table of the database: its row count and the md5 of its rows in a fixed (byte-wise) order. */
export const CHECKSUMS_SQL = `SELECT coalesce(json_object_agg(n.nspname || '.' || c.relname,
  (xpath('/row/c/text()', query_to_xml(format(
    'SELECT count(*) || '' '' || md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text COLLATE "C"), '''')) AS c FROM %I.%I t',
    n.nspname, c.relname), false, true, '')))[1]::text ORDER BY n.nspname, c.relname), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;

/** database -> table -> "rows md5", and the roles: what must be identical on both servers. */
export interface ServerFingerprint {
  databases: Record<string, Record<string, string>>;
  roles: unknown[];
}

async function fingerprint(step: StepCtx, pod: string): Promise<ServerFingerprint> {
  const names = await queryJsonInPod<string[]>(step, pod, DATABASES_SQL);
  const databases: ServerFingerprint['databases'] = {};
  for (const db of names) databases[db] = await queryJsonInPod<Record<string, string>>(step, pod, CHECKSUMS_SQL, db);
  return { databases, roles: await queryJsonInPod<unknown[]>(step, pod, ROLES_SQL) };
}

/** What differs between the two servers, one line each (empty: identical). Pure. */
export function fingerprintDiff(before: ServerFingerprint, after: ServerFingerprint): string[] {
  const out: string[] = [];
  const dbs = [...new Set([...Object.keys(before.databases), ...Object.keys(after.databases)])].sort();
  for (const db of dbs) {
    const a = before.databases[db];
    const b = after.databases[db];
    if (!a || !b) {
      out.push(`database ${db}: ${a ? 'missing after the restore' : 'not on the old server'}`);
      continue;
    }
    for (const t of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      if (a[t] !== b[t]) out.push(`${db}: table ${t}: ${a[t] ?? 'absent'} before, ${b[t] ?? 'absent'} after (rows md5)`);
  }
  if (JSON.stringify(before.roles) !== JSON.stringify(after.roles)) out.push('the roles (attributes or password verifiers) differ');
  return out;
}

/**
 * pg_dumpall's roles start with CREATE ROLE for every role, the bootstrap superuser included; the new server made
 * that one at initdb (POSTGRES_USER), so its CREATE line goes (its ALTER ROLE, with the old verifier, stays). Pure.
 */
export function forNewServer(dump: string, superuser: string): string {
  const line = `CREATE ROLE ${superuser};\n`;
  const at = dump.indexOf(line);
  if (at < 0) throw new StepError(`the dump has no "CREATE ROLE ${superuser};" line: it was not made by pg_dumpall of the kit's server`);
  return dump.slice(0, at) + dump.slice(at + line.length);
}

function claimManifest(step: StepCtx, plan: Upgrade, size: string, storageClass: string | undefined): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: plan.newClaim,
      namespace: step.config.namespace,
      // What the StatefulSet's volumeClaimTemplate gives its claims, so the StatefulSet adopts this one by name.
      labels: { 'app.kubernetes.io/name': PG_NAME, 'app.kubernetes.io/part-of': 'learnflow', 'app.kubernetes.io/instance': 'learnflow' },
      annotations: { [MAJOR_ANNOTATION]: String(plan.to.major) },
    },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, ...(storageClass ? { storageClassName: storageClass } : {}) },
  } as Manifest;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: { containers: { name: string; env?: { name: string; value?: string }[] }[]; volumes?: unknown[] };
}

/** The one-off pod: the new StatefulSet's own pod template (image, entrypoint, env, security), on the new claim. */
function upgradePod(step: StepCtx, plan: Upgrade, sts: Manifest): Manifest {
  const template = structuredClone((sts as unknown as { spec: { template: PodTemplate } }).spec.template);
  for (const c of template.spec.containers)
    // No database of its own: the dump makes every one (CREATE DATABASE ...).
    c.env = c.env?.map((e) => (e.name === 'POSTGRES_DB' ? { name: e.name, value: 'postgres' } : e));
  template.spec.volumes = [...(template.spec.volumes ?? []), { name: plan.newTemplate, persistentVolumeClaim: { claimName: plan.newClaim } }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    // Not app.kubernetes.io/name=postgresql: the Service, the kit's checks and backups must not pick it.
    metadata: {
      name: UPGRADE_POD,
      namespace: step.config.namespace,
      labels: { 'app.kubernetes.io/name': UPGRADE_POD, 'app.kubernetes.io/part-of': 'learnflow' },
    },
    spec: { ...template.spec, restartPolicy: 'Never' },
  } as Manifest;
}

/** The admin and each service log in to the new server with their Secret's password, over TCP (password checked). */
async function checkLogins(step: StepCtx, services: readonly ServiceDatabase[]): Promise<string[]> {
  const secrets = await readSecrets(step, [SECRET_NAME, ...services.map((s) => s.secret)]);
  const logins = [{ role: DB_USER, database: DB_NAME, secret: SECRET_NAME }, ...services];
  const failed: string[] = [];
  for (const l of logins) {
    const password = secrets.get(l.secret)?.get('password');
    if (!password) {
      failed.push(`${l.role}: no password in Secret ${l.secret}`);
      continue;
    }
    step.secrets.add(password);
    const login = await loginInPod(step, UPGRADE_POD, l.role, password, l.database);
    if (!login.ok) failed.push(`${l.role} -> ${l.database} (Secret ${l.secret}): ${login.message}`);
  }
  return failed;
}

/** Deletes and waits until gone (a pod's data directory is free, a StatefulSet's pod has stopped). */
async function deleteAndWait(step: StepCtx, what: string[], timeoutMs: number): Promise<void> {
  const args = ['delete', ...what, '-n', step.config.namespace, '--ignore-not-found', '--cascade=foreground', '--wait=true', `--timeout=${timeoutMs / 1000}s`];
  await step.kube.run(args, { timeoutMs: timeoutMs + 10_000, quiet: true });
}

/** The live object as it can be created again (what the API server set is dropped). */
function recreatable(live: Manifest): Manifest {
  const { metadata, ...rest } = structuredClone(live) as Manifest & { status?: unknown };
  delete (rest as { status?: unknown }).status;
  const { name, namespace, labels, annotations } = metadata as Manifest['metadata'] & { annotations?: Record<string, string> };
  const kept = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => !k.startsWith('kubectl.kubernetes.io/')));
  return { ...rest, metadata: { name, namespace, labels, ...(Object.keys(kept).length ? { annotations: kept } : {}) } } as Manifest;
}

export interface UpgradeInput {
  plan: Upgrade;
  /** What the deploy applies once the data is on the new major (the StatefulSet on the new template). */
  manifests: Manifest[];
  services: readonly ServiceDatabase[];
}

/** Runs the upgrade; on any failure the old version runs with its volume, and the error says so. */
export async function upgradeMajor(step: StepCtx, input: UpgradeInput): Promise<void> {
  const { plan } = input;
  const ns = step.config.namespace;
  const t0 = step.clock.now();
  const took: string[] = [];
  const lap = (what: string, since: number) => took.push(`${what} ${formatDuration(step.clock.now() - since)}`);
  step.log.info(plan.line);
  const sts = input.manifests.find((m) => m.kind === 'StatefulSet');
  if (!sts) throw new StepError('no StatefulSet among the manifests of the upgrade');
  const live = await step.kube.getOptional<Manifest>('statefulset', PG_NAME, ns, { fresh: true });
  const oldPod = await step.kube.getOptional<PodJson>('pod', OLD_POD, ns, { fresh: true });
  if (!live || !oldPod || !podReady(oldPod))
    throw new StepError(`the upgrade dumps the data from the running PostgreSQL ${plan.from.major}, and pod/${OLD_POD} is not ready. Nothing was changed`, {
      fix: `let it come up first (kubectl describe pod ${OLD_POD} -n ${ns}), then deploy again`,
      docs: 'postgres-major-upgrade',
    });
  type Claim = { spec?: { storageClassName?: string; resources?: { requests?: { storage?: string } } } };
  const oldClaim = await step.kube.getOptional<Claim>('pvc', plan.claim, ns, { fresh: true });
  const size = oldClaim?.spec?.resources?.requests?.storage ?? '5Gi';
  refuseWithoutRoom(await queryJsonInPod<number>(step, OLD_POD, SIZE_SQL), size, plan.newClaim, ns);

  // 1-3: beside the running old server; a failure removes what was made for the new one.
  let t = step.clock.now();
  try {
    await step.kube.apply([claimManifest(step, plan, size, oldClaim?.spec?.storageClassName)]);
    step.change(`persistentvolumeclaim/${plan.newClaim}`, 'created');
    await step.kube.apply([upgradePod(step, plan, sts)]);
    await waitForPod(step, UPGRADE_POD, {
      what: `pod/${UPGRADE_POD} ready`,
      list: { kinds: 'pod', selector: `app.kubernetes.io/name=${UPGRADE_POD}` },
      stuck: (d, logs) =>
        d.docs === 'pvc-pending'
          ? new StepError(`pvc/${plan.newClaim} for the new data directory did not bind: ${d.state}`, {
              fix: `the cluster has no free volume for it: kubectl describe pvc ${plan.newClaim} -n ${ns}; give the StorageClass room (or free a volume), then deploy again`,
            })
          : new StepError(`pod/${UPGRADE_POD}: ${d.state}${logs}`, { fix: d.fix }),
    });
    lap('new server up', t);

    t = step.clock.now();
    const dumpScript = `${AS_SUPERUSER}exec pg_dumpall -U "$POSTGRES_USER" --no-password`;
    const dumped = (await execInPod(step, OLD_POD, dumpScript, { timeoutMs: step.deadline.remaining() })).stdout;
    if (!dumped.includes(DUMPALL_COMPLETE)) throw new StepError('pg_dumpall ended without its "dump complete" line');
    const before = await fingerprint(step, OLD_POD);
    lap(`dump ${Math.ceil(dumped.length / 1024)} KiB and checksums`, t);

    t = step.clock.now();
    let sql = forNewServer(dumped, DB_USER);
    if (process.env[FAIL_RESTORE_ENV]) sql += '\nSELECT 1/0; -- made to fail by the test hook\n';
    const restore = `${AS_SUPERUSER}exec psql -X -q -v ON_ERROR_STOP=1 ${podDatabase('postgres')} -f -`;
    await execInPod(step, UPGRADE_POD, restore, { input: sql, timeoutMs: step.deadline.remaining() });
    lap('restore', t);

    t = step.clock.now();
    const after = await fingerprint(step, UPGRADE_POD);
    const differs = fingerprintDiff(before, after);
    if (differs.length) throw new StepError(`the restored data differs from the old: ${differs.slice(0, 5).join('; ')}`);
    const logins = await checkLogins(step, input.services);
    if (logins.length) throw new StepError(`logins refused by the new server: ${logins.join('; ')}`);
    const tables = Object.values(after.databases).reduce((n, d) => n + Object.keys(d).length, 0);
    step.log.ok(
      `verified on PostgreSQL ${plan.to.major}: ${Object.keys(after.databases).length} databases, ${tables} tables with identical row checksums; ${input.services.length + 1} logins work`,
    );
    lap('verify', t);
  } catch (err) {
    await deleteAndWait(step, [`pod/${UPGRADE_POD}`, `pvc/${plan.newClaim}`], 120_000).catch(() => {});
    throw new StepError(`the upgrade ${plan.from.version} -> ${plan.to.version} failed before the switch: ${why(err)}`, {
      fix: `nothing of the old version was touched: PostgreSQL ${plan.from.version} still runs on pvc/${plan.claim}, and pvc/${plan.newClaim} was removed. ${(err as StepError).fix ?? 'fix the cause above'}, then deploy again`,
      docs: 'postgres-major-upgrade',
      cause: err,
    });
  }

  // 4: the switch. The old server stops here; a failure puts it back.
  t = step.clock.now();
  await deleteAndWait(step, [`pod/${UPGRADE_POD}`], 120_000);
  await deleteAndWait(step, [`statefulset/${PG_NAME}`], 180_000);
  try {
    await step.kube.apply(input.manifests);
    await waitForWorkload(step, { kind: 'statefulset', name: PG_NAME, selector: POSTGRES_SELECTOR });
  } catch (err) {
    step.log.warn(`PostgreSQL ${plan.to.version} did not come up on pvc/${plan.newClaim}: putting ${plan.from.version} back on pvc/${plan.claim}`);
    await deleteAndWait(step, [`statefulset/${PG_NAME}`], 180_000).catch(() => {});
    await step.kube.run(['create', '-f', '-', '-n', ns], { input: JSON.stringify(recreatable(live)), quiet: true });
    await waitForWorkload(step, { kind: 'statefulset', name: PG_NAME, selector: POSTGRES_SELECTOR });
    throw new StepError(`the upgrade ${plan.from.version} -> ${plan.to.version} failed at the switch: ${why(err)}`, {
      fix: `PostgreSQL ${plan.from.version} runs again on pvc/${plan.claim} with its data; pvc/${plan.newClaim} is kept for a look (kubectl logs ${OLD_POD} -n ${ns} shows why it failed; delete it before the next try)`,
      docs: 'postgres-major-upgrade',
      cause: err,
    });
  }
  lap('switch', t);
  const mark = { labels: { [DATA_LABEL]: 'replaced' }, annotations: { [REPLACED_BY_ANNOTATION]: plan.newClaim, [MAJOR_ANNOTATION]: String(plan.from.major) } };
  await step.kube.run(['patch', 'pvc', plan.claim, '-n', ns, '--type=merge', '-p', JSON.stringify({ metadata: mark })], { quiet: true });
  step.change(`persistentvolumeclaim/${plan.claim}`, `kept (PostgreSQL ${plan.from.major} data, replaced by ${plan.newClaim})`);
  step.change('postgres major', `${plan.from.version} -> ${plan.to.version}`);
  step.log.ok(
    `upgraded PostgreSQL ${plan.from.version} -> ${plan.to.version} in ${formatDuration(step.clock.now() - t0)} (${took.join(', ')}); the old data stays on pvc/${plan.claim} until you release it: kubectl delete pvc ${plan.claim} -n ${ns}`,
  );
}
