// A PostgreSQL major version change is found before any change and refused with the way through
// (components/postgres/major.ts): from the running StatefulSet's image, or the major recorded on the claim.

import { describe, expect, it } from 'vitest';
import { dataMajor, MAJOR_ANNOTATION, majorOf, refuseMajorChange } from '../../scripts/lib/components/postgres/major.js';
import { StepError } from '../../scripts/lib/core/errors.js';

const sts = (image: string) => ({
  kind: 'StatefulSet',
  metadata: { name: 'postgresql' },
  spec: { template: { spec: { containers: [{ name: 'postgresql', image }] } } },
});
const claim = (major?: string) => ({
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'data-postgresql-0', ...(major ? { annotations: { [MAJOR_ANNOTATION]: major } } : {}) },
});

describe('the PostgreSQL major the data is on', () => {
  it('reads the major of an image, a version or a tag', () => {
    expect(majorOf('postgres:17.11')).toBe(17);
    expect(majorOf('registry.local:5000/postgres:18.1-trixie')).toBe(18);
    expect(majorOf('17.11')).toBe(17);
    expect(majorOf('postgres:latest')).toBeUndefined();
    expect(majorOf(undefined)).toBeUndefined();
  });

  it('from the running StatefulSet first, else from the claim; a new stack has none', () => {
    expect(dataMajor([sts('postgres:17.11'), claim('16')])).toEqual({ major: 17, from: 'statefulset/postgresql runs postgres:17.11' });
    expect(dataMajor([claim('17')])).toEqual({ major: 17, from: 'pvc/data-postgresql-0 holds the data of PostgreSQL 17' });
    expect(dataMajor([claim()])).toBeUndefined();
    expect(dataMajor([])).toBeUndefined();
  });

  it('refuses another major before any change, with the reason and the way through; a minor change rolls', () => {
    expect(() => refuseMajorChange('17.12', { major: 17, from: 'statefulset/postgresql runs postgres:17.11' }, 'learnflow')).not.toThrow();
    expect(() => refuseMajorChange('18.1', undefined, 'learnflow')).not.toThrow();
    let err: unknown;
    try {
      refuseMajorChange('18.1', { major: 17, from: 'pvc/data-postgresql-0 holds the data of PostgreSQL 17' }, 'team-b');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StepError);
    const e = err as StepError;
    expect(e.message).toMatch(
      /a major version change \(17 -> 18\) needs the data dumped and restored, which the kit does not do in place\. Nothing was changed$/,
    );
    expect(e.fix).toContain('./scripts/backup-postgres.mts -n team-b --output .learnflow/backups/before-pg18');
    expect(e.fix).toContain('./scripts/restore-postgres.mts -n team-b-pg18 --input .learnflow/backups/before-pg18 --force --yes');
    expect(e.fix).toContain('pin postgres back to 17.x in k8s/versions.json');
    expect(e.docs).toBe('postgres-major-upgrade');
  });
});
