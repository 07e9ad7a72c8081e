// Renders k8s/namespace.yaml and k8s/postgres/*.yaml with LearnFlow's sizes and names.

import { loadManifests, readVersions, type Manifest } from '../../kube/manifests.js';
import { DB_NAME, DB_USER } from '../shared/postgres-credentials.js';

/** LearnFlow's sizing: requests 250m/256Mi, limits 500m/512Mi, 5Gi storage. */
export const POSTGRES_RESOURCES = { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '512Mi', storage: '5Gi' } as const;

export { renderNamespace } from '../shared/namespace.js';

export function renderPostgres(namespace: string, password: string, opts: { networkPolicies?: boolean } = {}): Manifest[] {
  const v = readVersions().postgres;
  const values = { namespace, username: DB_USER, database: DB_NAME, image: `${v.image}:${v.version}`, version: v.version, password, ...POSTGRES_RESOURCES };
  return [
    ...loadManifests('postgres/secret.yaml', values),
    ...loadManifests('postgres/service.yaml', values),
    ...loadManifests('postgres/statefulset.yaml', values),
    ...loadManifests('postgres/pdb.yaml', values),
    ...(opts.networkPolicies === false ? [] : loadManifests('postgres/networkpolicy.yaml', values)),
  ];
}
