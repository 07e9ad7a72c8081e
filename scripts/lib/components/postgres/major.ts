// A PostgreSQL major change is not a roll: one major's data directory does not start under another ("database files
// are incompatible with server"; the kit sets PGDATA itself, which skips the 18 image's own old-data check). Planned
// before any change, from the StatefulSet's image, else (StatefulSet gone, volume kept) the major recorded on the
// claim: a newer major is a dump and restore into a new claim (upgrade.ts); what is unsafe is refused with the way out.
// Pure: reads the StatefulSet and claims as kubectl returns them.

import { PG_NAME, PG_POD } from '../shared/postgres-topology.js';
import { StepError } from '../../core/errors.js';
import { quantityBytes } from '../../kube/quantity.js';

/** On a claim: the major its data directory was made with (recorded after each rollout). */
/** The claim template a major's data gets when an upgrade makes it: its claim is data-pg<major>-postgresql-0. */
export const templateFor = (major: number | undefined) => `data-pg${major}`;

export const MAJOR_ANNOTATION = 'learnflow.dev/postgres-major';
/** On a claim an upgrade left behind: the claim that holds the data now (set once the new major runs). */
export const REPLACED_BY_ANNOTATION = 'learnflow.dev/replaced-by';
/** The label of such a claim, for `kubectl get pvc -l learnflow.dev/postgres-data=replaced`. */
export const DATA_LABEL = 'learnflow.dev/postgres-data';
/** The volumeClaimTemplate of stacks deployed before any upgrade (claim data-postgresql-0). */
export const FIRST_TEMPLATE = 'data';

export function claimOf(template: string): string {
  return `${template}-${PG_POD}`;
}

/** 17 of postgres:17.11, 17.11, 17-trixie; undefined when the tag says no major. */
export function majorOf(versionOrImage: string | undefined): number | undefined {
  const m = /^(\d+)/.exec(versionOrImage?.slice(versionOrImage.lastIndexOf(':') + 1) ?? '');
  return m ? Number(m[1]) : undefined;
}

export interface Workload {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    template?: { spec?: { containers?: { name: string; image?: string }[] } };
    volumeClaimTemplates?: { metadata: { name: string } }[];
    resources?: { requests?: { storage?: string } };
  };
  status?: { phase?: string };
}

const CLAIM_NAME = /^(data(?:-pg\d+)?)-postgresql-0$/;

/**
 * The volumeClaimTemplate the data is in: the StatefulSet's, else (StatefulSet gone, claims kept) the claim no
 * upgrade replaced, the newest major first; `data` for a new stack.
 */
export function currentTemplate(found: readonly Workload[]): string {
  const sts = found.find((o) => o.kind === 'StatefulSet' && o.metadata.name === PG_NAME);
  const live = sts?.spec?.volumeClaimTemplates?.[0]?.metadata.name;
  if (live) return live;
  const kept = found
    .filter((o) => o.kind === 'PersistentVolumeClaim' && CLAIM_NAME.test(o.metadata.name) && !o.metadata.annotations?.[REPLACED_BY_ANNOTATION])
    .map((o) => ({ template: CLAIM_NAME.exec(o.metadata.name)![1]!, major: majorOf(o.metadata.annotations?.[MAJOR_ANNOTATION]) ?? 0 }))
    .sort((a, b) => b.major - a.major);
  return kept[0]?.template ?? FIRST_TEMPLATE;
}

/** The major the stack's data is on: the running StatefulSet's image, else its claim's record; undefined for a new stack. */
export function dataMajor(found: readonly Workload[]): { major: number; from: string; version?: string } | undefined {
  const sts = found.find((o) => o.kind === 'StatefulSet' && o.metadata.name === PG_NAME);
  const image = sts?.spec?.template?.spec?.containers?.find((c) => c.name === PG_NAME)?.image;
  const running = majorOf(image);
  if (running !== undefined) return { major: running, from: `statefulset/postgresql runs ${image}`, version: image!.slice(image!.lastIndexOf(':') + 1) };
  const name = claimOf(currentTemplate(found));
  const claim = found.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === name);
  const recorded = majorOf(claim?.metadata.annotations?.[MAJOR_ANNOTATION]);
  return recorded === undefined ? undefined : { major: recorded, from: `pvc/${name} holds the data of PostgreSQL ${recorded}` };
}

/** What a deploy does about the major: nothing special (new stack, same major: a minor rolls), or an upgrade. */
export type MajorPlan =
  | { kind: 'keep'; template: string; line: string }
  | {
      kind: 'upgrade';
      from: { major: number; version: string };
      to: { major: number; version: string };
      /** The template and claim the data is in now (kept), and the ones the upgrade makes. */
      template: string;
      claim: string;
      newTemplate: string;
      newClaim: string;
      line: string;
    };

/**
 * Plans the major of a deploy before any change. Refused, with the reason and the fix: a pin whose major the tag
 * does not say, a downgrade (a dump of a newer major does not load into an older one), data whose server is not
 * running (nothing to dump from), and a new claim that exists already.
 */
export function planMajor(pinned: string, found: readonly Workload[], namespace: string): MajorPlan {
  const template = currentTemplate(found);
  const data = dataMajor(found);
  const want = majorOf(pinned);
  const keep = (line: string): MajorPlan => ({ kind: 'keep', template, line });
  if (want === undefined)
    throw new StepError(
      `the kit pins PostgreSQL '${pinned}', a version whose major it cannot tell: it cannot know whether the data needs an upgrade. Nothing was changed`,
      {
        fix: 'pin a version that starts with its major (e.g. 17.11) in k8s/versions.json',
        docs: 'postgres-major-upgrade',
      },
    );
  if (!data) return keep(`new stack: PostgreSQL ${pinned}`);
  if (data.major === want)
    return keep(`PostgreSQL ${data.major} as the data is on${data.version && data.version !== pinned ? `: ${data.version} -> ${pinned} rolls` : ''}`);
  if (data.major > want)
    throw new StepError(
      `${data.from}; the kit pins PostgreSQL ${pinned}: going back a major (${data.major} -> ${want}) cannot keep the data (a dump of ${data.major} does not load into ${want}). Nothing was changed`,
      {
        fix: `pin postgres back to ${data.major}.x in k8s/versions.json (a newer kit may pin it), or move the data by hand: ./scripts/backup-postgres.mts -n ${namespace}; deploy ${want} into a new namespace; restore-postgres there`,
        docs: 'postgres-major-upgrade',
      },
    );
  const sts = found.find((o) => o.kind === 'StatefulSet' && o.metadata.name === PG_NAME);
  if (!sts)
    throw new StepError(
      `${data.from}, but statefulset/postgresql is gone: the upgrade to ${pinned} dumps the data from the running ${data.major} server, and none runs. Nothing was changed`,
      {
        fix: `pin postgres back to ${data.major}.x in k8s/versions.json and deploy (./scripts/deploy-postgres.mts -n ${namespace}), then move the pin to ${pinned} and deploy again: that run upgrades`,
        docs: 'postgres-major-upgrade',
      },
    );
  const newTemplate = templateFor(want);
  const newClaim = claimOf(newTemplate);
  if (found.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === newClaim))
    throw new StepError(
      `pvc/${newClaim}, where the upgrade to ${want} would restore the data, exists already (left by an earlier attempt?). Nothing was changed`,
      {
        fix: `look at it (kubectl describe pvc ${newClaim} -n ${namespace}); once sure it holds nothing you need: kubectl delete pod/postgresql-upgrade pvc/${newClaim} -n ${namespace} --ignore-not-found, then deploy again`,
        docs: 'postgres-major-upgrade',
      },
    );
  const from = { major: data.major, version: data.version ?? String(data.major) };
  return {
    kind: 'upgrade',
    from,
    to: { major: want, version: pinned },
    template,
    claim: claimOf(template),
    newTemplate,
    newClaim,
    // The steps of an upgrade, as --dry-run and --diff say them.
    line: `postgres ${from.version} -> ${pinned}: major upgrade, data kept: dump, new data directory, restore, verify; the old volume kept until you release it`,
  };
}

/**
 * Room on the new claim: the restored databases take about what they take now, plus WAL and the indexes rebuilt;
 * refused (before any change) when they would fill more than two thirds of it.
 */
export function refuseWithoutRoom(dataBytes: number, claimSize: string, claim: string, namespace: string): void {
  const room = quantityBytes(claimSize);
  if (room === undefined || dataBytes * 1.5 <= room) return;
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  throw new StepError(
    `the databases hold ${gib(dataBytes)}; restored into a new claim of ${claimSize} (${claim}) they would leave too little room (the upgrade needs 1.5x the data). Nothing was changed`,
    {
      fix: `free space first (drop what you do not need), or back up (./scripts/backup-postgres.mts -n ${namespace}) and restore into a new stack with a larger volume`,
      docs: 'postgres-major-upgrade',
    },
  );
}
