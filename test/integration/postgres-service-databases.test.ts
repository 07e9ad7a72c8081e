// The services' own databases on a REAL PostgreSQL 15: created once, unchanged on a re-run, each login reaching its
// own database and refused the others', never a superuser; a role the file no longer names is found, and dropped
// only on request.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropServiceDatabase,
  ensureServiceDatabase,
  orphanedServiceRoles,
  parseServiceDatabases,
  serviceDatabase,
} from '../../scripts/lib/components/postgres/service-databases.js';
import { connectPg, tryLogin } from '../../scripts/lib/components/shared/postgres-client.js';
import { startPostgres, type PostgresInstance } from '../support/postgres.js';

let server: PostgresInstance;
let admin: pg.Client;
const services = parseServiceDatabases(
  'services:\n  - { name: student-api, database: students_db }\n  - { name: tutor-api, database: tutors_db }\n  - { name: matching-service, database: matching_db }\n',
  'test',
);
const passwords = Object.fromEntries(services.map((s, i) => [s.service, `pw_${i}_${'x'.repeat(20)}`]));

beforeAll(async () => {
  server = await startPostgres();
  await server.createDatabase('learnflow');
  admin = await connectPg(server.url.replace(/\/postgres$/, '/learnflow'));
});
afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

describe('per-service databases', () => {
  it('creates a login role and a database it owns for each service', async () => {
    for (const s of services) {
      const changes = await ensureServiceDatabase(admin, s, passwords[s.service]!);
      expect(changes).toMatchObject({ [`role ${s.role}`]: 'created', [`database ${s.database}`]: 'created' });
    }
    const { rows } = await admin.query<{ rolname: string; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; owner: string }>(
      `SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba) AS owner FROM pg_roles r JOIN pg_database d ON d.datdba = r.oid WHERE r.rolname = ANY($1) ORDER BY 1`,
      [services.map((s) => s.role)],
    );
    expect(rows.map((r) => [r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole])).toEqual([
      ['matching_service', false, false, false],
      ['student_api', false, false, false],
      ['tutor_api', false, false, false],
    ]);
  });

  it('a re-run changes nothing', async () => {
    for (const s of services) {
      const changes = await ensureServiceDatabase(admin, s, passwords[s.service]!);
      expect(
        Object.values(changes).every((v) => v === 'unchanged'),
        JSON.stringify(changes),
      ).toBe(true);
    }
  });

  it("each service logs in to its own database and is refused the others' (and the LearnFlow database)", async () => {
    for (const s of services) {
      expect(await tryLogin(admin, s.role, passwords[s.service]!, s.database)).toEqual({ ok: true });
      for (const o of services.filter((x) => x !== s)) {
        expect(await tryLogin(admin, s.role, passwords[s.service]!, o.database), `${s.role} -> ${o.database}`).toMatchObject({ ok: false, code: '42501' });
      }
    }
    // The learnflow database grants CONNECT to PUBLIC (it is the platform's shared one): reading its tables is what
    // the privileges stop, not the login. The service roles own nothing there.
    const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_tables WHERE tableowner = ANY($1)', [services.map((s) => s.role)]);
    expect(rows[0]!.n).toBe('0');
    // And a wrong password is refused (the server asks for it over TCP).
    expect(await tryLogin(admin, services[0]!.role, 'wrong', services[0]!.database)).toMatchObject({ ok: false, code: '28P01' });
  });

  it('a changed password is set again, and PUBLIC CONNECT granted by hand is revoked again', async () => {
    const s = services[0]!;
    await admin.query(`ALTER ROLE ${s.role} PASSWORD 'someone-else'`);
    await admin.query(`GRANT CONNECT ON DATABASE ${s.database} TO PUBLIC`);
    const changes = await ensureServiceDatabase(admin, s, passwords[s.service]!);
    expect(changes).toMatchObject({ [`role ${s.role} password`]: 'password set', [`database ${s.database} connect`]: 'configured' });
    expect(await tryLogin(admin, services[1]!.role, passwords[services[1]!.service]!, s.database)).toMatchObject({ ok: false, code: '42501' });
  });

  it('a service the file no longer names is found, kept, and dropped only on request', async () => {
    const remaining = services.filter((s) => s.service !== 'matching-service');
    expect(await orphanedServiceRoles(admin, remaining)).toEqual([{ role: 'matching_service', databases: ['matching_db'] }]);
    // A role the kit did not make for a service is never dropped.
    await admin.query('CREATE ROLE someone_elses LOGIN');
    await expect(dropServiceDatabase(admin, 'someone_elses', [])).rejects.toThrow(/not made by the kit/);
    expect(await dropServiceDatabase(admin, 'matching_service', ['matching_db'])).toEqual({
      'database matching_db': 'dropped',
      'role matching_service': 'dropped',
    });
    expect(await orphanedServiceRoles(admin, remaining)).toEqual([]);
  });

  it('two deploys at once, each creating every service on its own connection: each database and login made once, no error', async () => {
    const fresh = parseServiceDatabases('services:\n  - { name: race-a, database: race_a_db }\n  - { name: race-b, database: race_b_db }\n', 'test');
    const url = server.url.replace(/\/postgres$/, '/learnflow');
    const clients = await Promise.all([0, 1, 2, 3].map(() => connectPg(url)));
    try {
      // Deploy 1 on clients 0-1, deploy 2 on clients 2-3: the same two services, all four calls at once.
      const results = await Promise.all(clients.map((c, i) => ensureServiceDatabase(c, fresh[i % 2]!, 'pw_race_xxxxxxxxxxxxxxxxxx')));
      for (const s of fresh) {
        const mine = results.filter((_, i) => fresh[i % 2] === s).map((r) => r[`database ${s.database}`]);
        expect(mine.sort(), s.service).toEqual(['created', 'unchanged']);
      }
      const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_database WHERE datname = ANY($1)', [fresh.map((s) => s.database)]);
      expect(Number(rows[0]!.n)).toBe(2);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      for (const s of fresh) await dropServiceDatabase(admin, s.role, [s.database]);
    }
  });

  it('refuses a file that gives one database to two services, or a service the learnflow database', () => {
    expect(() => parseServiceDatabases('services:\n  - { name: a, database: x_db }\n  - { name: b, database: x_db }\n', 'f')).toThrow(/given to two services/);
    expect(() => parseServiceDatabases('services:\n  - { name: a, database: learnflow }\n', 'f')).toThrow(/not a service's to own/);
    expect(serviceDatabase('student-api', 'students_db')).toEqual({
      service: 'student-api',
      database: 'students_db',
      role: 'student_api',
      secret: 'student-api-db',
    });
  });
});
