// verify-postgres's checks: the cluster side (pod, volume, endpoints), the data (schema, seed, a write/read round trip
// that is rolled back) and each service's login to its own database.

import { inTransaction } from '../shared/postgres-client.js';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { type LoginProbe } from '../shared/postgres-connection.js';
import type { StepCtx } from '../../run/context.js';
import { CURRICULUM_TOPICS, EXPECTED_FOREIGN_KEYS, EXPECTED_TABLES, TEST_USERS } from './expected-schema.js';
import { runCheck } from '../../run/steps.js';
import { PG_NAME, POSTGRES_SELECTOR } from '../shared/postgres-topology.js';
import { readSecrets, type SecretValues } from '../../kube/secrets.js';
import { podReady } from '../../kube/pod-diagnosis.js';
import { type ServiceDatabase } from './service-databases.js';

export async function checkData(step: StepCtx, client: pg.Client, probe: LoginProbe): Promise<void> {
  const { rows: version } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  step.check('connection', true, `PostgreSQL ${version[0]?.v ?? '?'}`);
  await checkPasswordRequired(step, client, probe);

  const { rows: cols } = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1)`,
    [Object.keys(EXPECTED_TABLES)],
  );
  const present = new Map<string, Set<string>>();
  for (const r of cols) {
    if (!present.has(r.table_name)) present.set(r.table_name, new Set());
    present.get(r.table_name)!.add(r.column_name);
  }
  const missingTables = Object.keys(EXPECTED_TABLES).filter((t) => !present.has(t));
  const missingColumns = Object.entries(EXPECTED_TABLES).flatMap(([t, cs]) =>
    present.has(t) ? cs.filter((c) => !present.get(t)!.has(c)).map((c) => `${t}.${c}`) : [],
  );
  step.check(
    'tables',
    missingTables.length === 0 && missingColumns.length === 0,
    missingTables.length
      ? `missing table(s): ${missingTables.join(', ')}`
      : missingColumns.length
        ? `missing column(s): ${missingColumns.join(', ')}`
        : `${Object.keys(EXPECTED_TABLES).length} tables with their columns`,
  );

  const { rows: fks } = await client.query<{ src: string; col: string; ref: string }>(`
    SELECT c.conrelid::regclass::text AS src, a.attname AS col, c.confrelid::regclass::text AS ref
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
    WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`);
  const have = new Set(fks.map((f) => `${f.src.replace(/^public\./, '')}.${f.col}->${f.ref.replace(/^public\./, '')}`));
  const missingFks = Object.entries(EXPECTED_FOREIGN_KEYS)
    .filter(([from, to]) => !have.has(`${from}->${to}`))
    .map(([from, to]) => `${from} -> ${to}`);
  step.check(
    'foreign keys',
    missingFks.length === 0,
    missingFks.length ? `missing: ${missingFks.join(', ')}` : `${Object.keys(EXPECTED_FOREIGN_KEYS).length} foreign keys`,
  );

  await runCheck(step, 'curriculum topics', async () => {
    const { rows } = await client.query<{ n: string }>('SELECT count(DISTINCT position) AS n FROM public.topics WHERE position BETWEEN 1 AND $1', [
      CURRICULUM_TOPICS,
    ]);
    const n = Number(rows[0]?.n ?? 0);
    return [n === CURRICULUM_TOPICS, `${n} of ${CURRICULUM_TOPICS} Python topics (positions 1-${CURRICULUM_TOPICS})`];
  });

  await runCheck(step, 'test users', async () => {
    const { rows } = await client.query<{ email: string; role: string; hashed: boolean }>(
      `SELECT email, role, password_hash LIKE '$%$%' AS hashed FROM public.users WHERE email = ANY($1)`,
      [TEST_USERS.map((u) => u.email)],
    );
    const found = new Map(rows.map((r) => [r.email, r]));
    const problems = TEST_USERS.flatMap((u) => {
      const r = found.get(u.email);
      if (!r) return [`${u.email} missing`];
      if (r.role !== u.role) return [`${u.email} has role ${r.role}, expected ${u.role}`];
      if (!r.hashed) return [`${u.email} has no password hash`];
      return [];
    });
    return [problems.length === 0, problems.length ? problems.join('; ') : TEST_USERS.map((u) => `${u.role} ${u.email}`).join(', ')];
  });

  await runCheck(step, 'write/read round trip', async () => {
    const marker = `verify-${Date.now().toString(36)}`;
    return inTransaction(
      client,
      async () => {
        await client.query(
          `INSERT INTO public.topics (position, slug, title, description, difficulty) VALUES (100000 + floor(random() * 100000)::int, $1, $1, 'verify-postgres round trip', 'beginner')`,
          [marker],
        );
        const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM public.topics WHERE slug = $1', [marker]);
        return [Number(rows[0]?.n) === 1, 'inserted and read back a row inside a transaction, then rolled it back'] as [boolean, string];
      },
      { rollback: true },
    );
  });
}

/**
 * The connection above proves the password only if the server asked for it: the image trusts TCP from 127.0.0.1
 * (where a port-forward arrives) on volumes made without --auth-host. So a wrong password must be refused (28P01),
 * else a Secret that no longer matches passes here while every application fails to log in.
 */
export async function checkPasswordRequired(step: StepCtx, client: pg.Client, probe: LoginProbe): Promise<void> {
  const user = client.user ?? 'postgres';
  const wrong = `not-the-password-${randomBytes(6).toString('hex')}`;
  const r = await probe(user, wrong, client.database ?? 'learnflow');
  if (r.ok) {
    step.check(
      'password required',
      false,
      `${user} logged in with a wrong password: this server trusts connections from this address (pg_hba.conf), so the password in use is not proven; run ./scripts/deploy-postgres.mts (it makes TCP logins need the password) and verify again`,
    );
  } else if (r.code === '28P01') {
    step.check('password required', true, `a wrong password for ${user} is refused, so the one in use is the database's`);
  } else {
    step.check('password required', false, `a login with a wrong password failed for another reason: ${r.message}`);
  }
}

/**
 * Real logins: each service reaches its own database with the password in its Secret and is refused the others'.
 * A Secret whose password no longer matches is found here.
 */
export async function checkServiceDatabases(step: StepCtx, probe: LoginProbe, services: readonly ServiceDatabase[]): Promise<void> {
  const kept = await readSecrets(
    step,
    services.map((s) => s.secret),
  ).catch(() => new Map<string, SecretValues>());
  for (const s of services) {
    const name = `service database ${s.database}`;
    const password = kept.get(s.secret)?.get('password');
    if (!password) {
      step.check(name, false, `no Secret ${s.secret} with a password: run ./scripts/deploy-postgres.mts`);
      continue;
    }
    const own = await probe(s.role, password, s.database);
    if (!own.ok) {
      const why =
        own.code === '28P01'
          ? `the password in Secret ${s.secret} does not match the database's (fix: ./scripts/deploy-postgres.mts sets it again)`
          : own.message;
      step.check(name, false, `${s.role} cannot log in to ${s.database}: ${why}`);
      continue;
    }
    const others = services.filter((o) => o.database !== s.database);
    const let_in = [];
    for (const o of others) if ((await probe(s.role, password, o.database)).ok) let_in.push(o.database);
    step.check(
      name,
      let_in.length === 0,
      let_in.length
        ? `${s.role} can also open ${let_in.join(', ')}: CONNECT is not revoked from PUBLIC there (./scripts/deploy-postgres.mts revokes it)`
        : `${s.role} logs in with Secret ${s.secret}${others.length ? `; refused ${others.map((o) => o.database).join(', ')}` : ''}`,
    );
  }
}

export async function checkClusterSide(step: StepCtx): Promise<void> {
  const ns = step.config.namespace;
  await runCheck(step, 'pod ready', async () => {
    const pods = await step.kube.list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string }[]; phase?: string } }>('pod', {
      selector: POSTGRES_SELECTOR,
    });
    const ready = pods.filter(podReady);
    return [
      pods.length > 0 && ready.length === pods.length,
      pods.length
        ? pods.map((p) => `${p.metadata.name}: ${ready.includes(p) ? 'ready' : (p.status?.phase ?? 'unknown')}`).join(', ')
        : `no PostgreSQL pod in ${ns}`,
    ];
  });
  await runCheck(step, 'volume bound', async () => {
    const pvcs = await step.kube.list<{ metadata: { name: string }; status?: { phase?: string; capacity?: { storage?: string } } }>('pvc', {
      selector: POSTGRES_SELECTOR,
    });
    const bound = pvcs.filter((p) => p.status?.phase === 'Bound');
    return [
      pvcs.length > 0 && bound.length === pvcs.length,
      pvcs.length
        ? pvcs.map((p) => `${p.metadata.name}: ${p.status?.phase ?? '?'}${p.status?.capacity?.storage ? ` ${p.status.capacity.storage}` : ''}`).join(', ')
        : `no PersistentVolumeClaim in ${ns}`,
    ];
  });
  await runCheck(step, 'service endpoints', async () => {
    const slices = await step.kube.list<{ endpoints?: { conditions?: { ready?: boolean } }[] }>('endpointslices', {
      selector: 'kubernetes.io/service-name=postgresql',
    });
    const ready = slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    return [ready > 0, ready ? `svc/${PG_NAME} has ${ready} ready endpoint(s)` : `svc/${PG_NAME} has no ready endpoints`];
  });
}
