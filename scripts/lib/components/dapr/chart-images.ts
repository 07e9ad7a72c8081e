// The images the Dapr chart pulls (scripts/images.mts lists them through the component's images()): a slow pull of
// one of them is what trips the control plane's rollout wait.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { ImageUse } from '../types.js';

/**
 * The images of the Dapr chart (dapr/dapr charts/dapr): each sub-chart's values.yaml names its image, and the
 * templates build "<global.registry>/<name>:<global.tag>". The injector runs the "injector" image and injects
 * "daprd" into every annotated pod.
 */
export const DAPR_CHART_IMAGES: readonly { name: string; what: string }[] = [
  { name: 'operator', what: 'dapr-operator' },
  { name: 'placement', what: 'dapr-placement-server' },
  { name: 'sentry', what: 'dapr-sentry' },
  { name: 'injector', what: 'dapr-sidecar-injector' },
  { name: 'scheduler', what: 'dapr-scheduler-server' },
  { name: 'daprd', what: 'the sidecar injected into every Dapr-enabled pod' },
];

export const DAPR_DEFAULT_REGISTRY = 'ghcr.io/dapr';

/** global.registry from k8s/dapr/values.yaml when it overrides the chart's. */
export function daprRegistry(root: string): string {
  const file = path.join(root, 'k8s', 'dapr', 'values.yaml');
  if (!existsSync(file)) return DAPR_DEFAULT_REGISTRY;
  const values = parse(readFileSync(file, 'utf8')) as { global?: { registry?: string } } | null;
  return values?.global?.registry ?? DAPR_DEFAULT_REGISTRY;
}

export function daprChartImages(version: string, registry = DAPR_DEFAULT_REGISTRY, opts: { scheduler?: boolean } = {}): ImageUse[] {
  return DAPR_CHART_IMAGES.filter((i) => opts.scheduler !== false || i.name !== 'scheduler').map((i) => ({
    image: `${registry}/${i.name}:${version}`,
    source: `Dapr chart: ${i.what}`,
  }));
}
