// The stack's namespace (k8s/namespace.yaml): every component applies it first, so it lives with none of them.

import { loadManifests, type Manifest } from '../../kube/manifests.js';

export function renderNamespace(namespace: string): Manifest[] {
  return loadManifests('namespace.yaml', { namespace });
}
