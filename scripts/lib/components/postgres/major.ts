// A PostgreSQL major version change is not a roll: the data directory of one major does not start under another
// ("database files are incompatible with server", and the kit sets PGDATA itself, which skips the 18 image's own
// old-data check). The kit finds it before any change, from what runs (the StatefulSet's image) or, when the
// StatefulSet is gone and its volume kept, from the major recorded on the claim, and refuses it with the way
// through: a dump and restore (backup-postgres / restore-postgres), until it can do that itself.

import { PG_DATA_CLAIM, PG_NAME } from '../shared/postgres-topology.js';
import { StepError } from '../../core/errors.js';

/** On the claim data-postgresql-0: the major its data directory was made with (recorded after each rollout). */
export const MAJOR_ANNOTATION = 'learnflow.dev/postgres-major';

/** 17 of postgres:17.11, 17.11, 17-trixie; undefined when the tag says no major. */
export function majorOf(versionOrImage: string | undefined): number | undefined {
  const tag = versionOrImage?.includes(':') ? versionOrImage.slice(versionOrImage.lastIndexOf(':') + 1) : versionOrImage;
  const m = /^(\d+)/.exec(tag ?? '');
  return m ? Number(m[1]) : undefined;
}

interface Workload {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
}

/** The major the stack's data is on: the running StatefulSet's image, else its claim's record; undefined for a new stack. */
export function dataMajor(found: readonly Workload[]): { major: number; from: string } | undefined {
  const sts = found.find((o) => o.kind === 'StatefulSet' && o.metadata.name === PG_NAME);
  const image = sts?.spec?.template?.spec?.containers?.find((c) => c.name === PG_NAME)?.image;
  const running = majorOf(image);
  if (running !== undefined) return { major: running, from: `statefulset/postgresql runs ${image}` };
  const claim = found.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === PG_DATA_CLAIM);
  const recorded = majorOf(claim?.metadata.annotations?.[MAJOR_ANNOTATION]);
  return recorded === undefined ? undefined : { major: recorded, from: `pvc/${PG_DATA_CLAIM} holds the data of PostgreSQL ${recorded}` };
}

/** Refuses, before any change, a pinned major other than the one the data is on. */
export function refuseMajorChange(pinned: string, data: { major: number; from: string } | undefined, namespace: string): void {
  const want = majorOf(pinned);
  if (!data || want === undefined || want === data.major) return;
  const dir = `.learnflow/backups/before-pg${want}`;
  throw new StepError(
    `${data.from}; the kit pins PostgreSQL ${pinned}: a major version change (${data.major} -> ${want}) needs the data dumped and restored, which the kit does not do in place. Nothing was changed`,
    {
      fix: `keep ${data.major} (pin postgres back to ${data.major}.x in k8s/versions.json), or move the data to ${want}: ./scripts/backup-postgres.mts -n ${namespace} --output ${dir}; deploy ${want} into a new namespace (./deploy-all.mts -n ${namespace}-pg${want}); ./scripts/restore-postgres.mts -n ${namespace}-pg${want} --input ${dir} --force --yes`,
      docs: 'postgres-major-upgrade',
    },
  );
}
