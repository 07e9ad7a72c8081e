// Renders k8s/postgres/*.yaml with LearnFlow's sizes and names (the namespace: shared/namespace.ts).

import { loadManifests, type Manifest } from '../../kube/manifests.js';
import { readVersions } from '../../core/repo.js';
import { DB_NAME, DB_USER } from '../shared/postgres-credentials.js';

export const POSTGRES_RESOURCES = { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '512Mi', storage: '5Gi' } as const;

export { renderNamespace } from '../shared/namespace.js';

export function renderPostgres(namespace: string, password: string, opts: { networkPolicies?: boolean; claimTemplate?: string } = {}): Manifest[] {
  const v = readVersions().postgres;
  const values = { namespace, username: DB_USER, database: DB_NAME, image: `${v.image}:${v.version}`, version: v.version, password, ...POSTGRES_RESOURCES };
  return [
    ...loadManifests('postgres/secret.yaml', values),
    ...loadManifests('postgres/service.yaml', values),
    ...withClaimTemplate(loadManifests('postgres/statefulset.yaml', values), opts.claimTemplate),
    ...loadManifests('postgres/pdb.yaml', values),
    ...(opts.networkPolicies === false ? [] : loadManifests('postgres/networkpolicy.yaml', values)),
  ];
}

interface StatefulSetShape {
  spec: {
    template: { spec: { containers: { volumeMounts?: { name: string }[] }[] } };
    volumeClaimTemplates: { metadata: { name: string } }[];
  };
}

/**
 * The data volume under another template name (data-pg17 after an upgrade to 17: its claim is
 * data-pg17-postgresql-0). A StatefulSet's templates cannot change, so a deploy keeps the one that runs.
 */
export function withClaimTemplate(manifests: readonly Manifest[], template = 'data'): Manifest[] {
  if (template === 'data') return [...manifests];
  return manifests.map((m) => {
    if (m.kind !== 'StatefulSet') return m;
    const copy = structuredClone(m) as unknown as StatefulSetShape;
    copy.spec.volumeClaimTemplates[0]!.metadata.name = template;
    for (const c of copy.spec.template.spec.containers) for (const v of c.volumeMounts ?? []) if (v.name === 'data') v.name = template;
    return copy as unknown as Manifest;
  });
}
