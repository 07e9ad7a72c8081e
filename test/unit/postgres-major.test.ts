// The PostgreSQL major of a deploy (components/postgres/major.ts), planned before any change from the objects as
// kubectl returns them: the kit's own rendered StatefulSet (with the image a cluster would run) and its claims. A
// minor version rolls, an older major is upgraded into a new claim, what cannot be done safely is refused; and
// the pure parts of the upgrade (upgrade.ts): the dump made fit for the new server, the fingerprints compared.

import { describe, expect, it } from 'vitest';
import {
  claimOf,
  currentTemplate,
  dataMajor,
  MAJOR_ANNOTATION,
  majorOf,
  planMajor,
  refuseWithoutRoom,
  REPLACED_BY_ANNOTATION,
  type Workload,
} from '../../scripts/lib/components/postgres/major.js';
import { renderPostgres, withClaimTemplate } from '../../scripts/lib/components/postgres/manifests.js';
import { fingerprintDiff, forNewServer } from '../../scripts/lib/components/postgres/upgrade.js';
import { StepError } from '../../scripts/lib/core/errors.js';
import { quantityBytes } from '../../scripts/lib/kube/quantity.js';

/** The kit's StatefulSet as deployed (the image a stack of another pin would run), as `kubectl get -o json` has it. */
const sts = (image: string, template = 'data'): Workload => {
  const rendered = withClaimTemplate(renderPostgres('learnflow', 'pw'), template).find((m) => m.kind === 'StatefulSet')!;
  const json = JSON.parse(JSON.stringify(rendered).replace(/"postgres:[0-9.]+"/, JSON.stringify(image))) as Workload;
  return { ...json, metadata: { ...json.metadata, labels: { 'app.kubernetes.io/name': 'postgresql' } } };
};
const claim = (name: string, annotations: Record<string, string> = {}): Workload => ({
  kind: 'PersistentVolumeClaim',
  metadata: { name, labels: { 'app.kubernetes.io/name': 'postgresql' }, annotations },
  spec: { resources: { requests: { storage: '5Gi' } } },
  status: { phase: 'Bound' },
});
const refusal = (fn: () => unknown): StepError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StepError);
    return e as StepError;
  }
  throw new Error('not refused');
};

describe('the PostgreSQL major the data is on', () => {
  it('reads the major of an image, a version or a tag', () => {
    expect(majorOf('postgres:17.11')).toBe(17);
    expect(majorOf('registry.local:5000/postgres:18.1-trixie')).toBe(18);
    expect(majorOf('17.11')).toBe(17);
    expect(majorOf('postgres:latest')).toBeUndefined();
    expect(majorOf(undefined)).toBeUndefined();
  });

  it('from the running StatefulSet first, else from the claim no upgrade replaced; a new stack has none', () => {
    expect(dataMajor([sts('postgres:17.11'), claim('data-postgresql-0', { [MAJOR_ANNOTATION]: '16' })])).toEqual({
      major: 17,
      from: 'statefulset/postgresql runs postgres:17.11',
      version: '17.11',
    });
    expect(dataMajor([claim('data-postgresql-0', { [MAJOR_ANNOTATION]: '17' })])).toEqual({
      major: 17,
      from: 'pvc/data-postgresql-0 holds the data of PostgreSQL 17',
    });
    // After an upgrade, with the StatefulSet gone (destroy-all keeps claims): the new claim, not the replaced one.
    const upgraded = [
      claim('data-postgresql-0', { [MAJOR_ANNOTATION]: '15', [REPLACED_BY_ANNOTATION]: 'data-pg17-postgresql-0' }),
      claim('data-pg17-postgresql-0', { [MAJOR_ANNOTATION]: '17' }),
    ];
    expect(currentTemplate(upgraded)).toBe('data-pg17');
    expect(dataMajor(upgraded)?.major).toBe(17);
    expect(dataMajor([claim('data-postgresql-0')])).toBeUndefined();
    expect(dataMajor([])).toBeUndefined();
  });

  it('a re-run keeps the template of the StatefulSet that runs (its templates cannot change)', () => {
    expect(currentTemplate([sts('postgres:17.11', 'data-pg17'), claim('data-postgresql-0')])).toBe('data-pg17');
    expect(currentTemplate([sts('postgres:17.11')])).toBe('data');
    expect(currentTemplate([])).toBe('data');
    const rendered = withClaimTemplate(renderPostgres('learnflow', 'pw'), 'data-pg17').find((m) => m.kind === 'StatefulSet') as unknown as {
      spec: {
        volumeClaimTemplates: { metadata: { name: string } }[];
        template: { spec: { containers: { volumeMounts: { name: string; mountPath: string }[] }[] } };
      };
    };
    expect(rendered.spec.volumeClaimTemplates[0]!.metadata.name).toBe('data-pg17');
    expect(rendered.spec.template.spec.containers[0]!.volumeMounts).toContainEqual({ name: 'data-pg17', mountPath: '/var/lib/postgresql/data' });
    expect(claimOf('data-pg17')).toBe('data-pg17-postgresql-0');
  });
});

describe('planning the major of a deploy', () => {
  it('a new stack and the same major (a minor rolls) change nothing about the data', () => {
    expect(planMajor('17.11', [], 'learnflow')).toEqual({ kind: 'keep', template: 'data', line: 'new stack: PostgreSQL 17.11' });
    expect(planMajor('17.12', [sts('postgres:17.11'), claim('data-postgresql-0')], 'learnflow')).toEqual({
      kind: 'keep',
      template: 'data',
      line: 'PostgreSQL 17 as the data is on: 17.11 -> 17.12 rolls',
    });
  });

  it('an older major running: an upgrade into a new claim named for the new major, the old one kept', () => {
    const plan = planMajor('17.11', [sts('postgres:15.20'), claim('data-postgresql-0', { [MAJOR_ANNOTATION]: '15' })], 'learnflow');
    expect(plan).toEqual({
      kind: 'upgrade',
      from: { major: 15, version: '15.20' },
      to: { major: 17, version: '17.11' },
      template: 'data',
      claim: 'data-postgresql-0',
      newTemplate: 'data-pg17',
      newClaim: 'data-pg17-postgresql-0',
      line: 'postgres 15.20 -> 17.11: major upgrade, data kept: dump, new data directory, restore, verify; the old volume kept until you release it',
    });
    // A second upgrade starts from the claim the first one made.
    const again = planMajor('18.1', [sts('postgres:17.11', 'data-pg17'), claim('data-postgresql-0'), claim('data-pg17-postgresql-0')], 'learnflow');
    expect(again).toMatchObject({ kind: 'upgrade', claim: 'data-pg17-postgresql-0', newClaim: 'data-pg18-postgresql-0' });
  });

  it('refuses, before any change, what cannot be done safely: each with its reason and fix', () => {
    const down = refusal(() => planMajor('17.11', [sts('postgres:18.1'), claim('data-postgresql-0')], 'team-b'));
    expect(down.message).toMatch(/going back a major \(18 -> 17\) cannot keep the data .* Nothing was changed$/);
    expect(down.fix).toContain('pin postgres back to 18.x in k8s/versions.json');
    expect(down.docs).toBe('postgres-major-upgrade');

    const unknown = refusal(() => planMajor('latest', [sts('postgres:17.11')], 'learnflow'));
    expect(unknown.message).toContain('a version whose major it cannot tell');
    expect(unknown.fix).toContain('pin a version that starts with its major');

    // The StatefulSet is gone, the claim kept: no old server to dump from.
    const gone = refusal(() => planMajor('17.11', [claim('data-postgresql-0', { [MAJOR_ANNOTATION]: '15' })], 'team-b'));
    expect(gone.message).toContain('pvc/data-postgresql-0 holds the data of PostgreSQL 15, but statefulset/postgresql is gone');
    expect(gone.fix).toContain(
      'pin postgres back to 15.x in k8s/versions.json and deploy (./scripts/deploy-postgres.mts -n team-b), then move the pin to 17.11',
    );

    // A claim of the new major's name exists already (an earlier attempt left it): never restored over.
    const taken = refusal(() => planMajor('17.11', [sts('postgres:15.20'), claim('data-postgresql-0'), claim('data-pg17-postgresql-0')], 'team-b'));
    expect(taken.message).toContain('pvc/data-pg17-postgresql-0, where the upgrade to 17 would restore the data, exists already');
    expect(taken.fix).toContain('kubectl delete pod/postgresql-upgrade pvc/data-pg17-postgresql-0 -n team-b --ignore-not-found');
  });

  it('refuses an upgrade the new claim has no room for', () => {
    expect(quantityBytes('5Gi')).toBe(5 * 2 ** 30);
    expect(quantityBytes('500M')).toBe(500e6);
    expect(quantityBytes('lots')).toBeUndefined();
    expect(() => refuseWithoutRoom(3 * 2 ** 30, '5Gi', 'data-pg17-postgresql-0', 'learnflow')).not.toThrow();
    const full = refusal(() => refuseWithoutRoom(4 * 2 ** 30, '5Gi', 'data-pg17-postgresql-0', 'learnflow'));
    expect(full.message).toContain('the databases hold 4.0 GiB; restored into a new claim of 5Gi (data-pg17-postgresql-0) they would leave too little room');
    expect(full.fix).toContain('./scripts/backup-postgres.mts -n learnflow');
  });
});

describe('the pure parts of the upgrade', () => {
  const dump = [
    '--',
    '-- Roles',
    '--',
    '',
    'CREATE ROLE dapr_state;',
    'ALTER ROLE dapr_state WITH LOGIN;',
    'CREATE ROLE learnflow_user;',
    "ALTER ROLE learnflow_user WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$x';",
    '',
  ].join('\n');

  it('drops only the CREATE ROLE of the superuser the new server made at initdb (its ALTER ROLE stays)', () => {
    const out = forNewServer(dump, 'learnflow_user');
    expect(out).not.toContain('CREATE ROLE learnflow_user;');
    expect(out).toContain('CREATE ROLE dapr_state;');
    expect(out).toContain("ALTER ROLE learnflow_user WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$x';");
    expect(() => forNewServer(dump, 'someone_else')).toThrow(/no "CREATE ROLE someone_else;" line/);
  });

  it('names every table whose rows differ, a database missing, and roles that differ', () => {
    const before = { databases: { learnflow: { 'public.users': '3 abc', 'public.topics': '24 def' }, tutors_db: {} }, roles: [['a', true]] };
    expect(fingerprintDiff(before, structuredClone(before))).toEqual([]);
    const after = { databases: { learnflow: { 'public.users': '2 abd', 'public.topics': '24 def' } }, roles: [['a', false]] };
    expect(fingerprintDiff(before, after)).toEqual([
      'learnflow: table public.users: 3 abc before, 2 abd after (rows md5)',
      'database tutors_db: missing after the restore',
      'the roles (attributes or password verifiers) differ',
    ]);
  });
});
