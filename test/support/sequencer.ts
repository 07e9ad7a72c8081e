// The order vitest hands files to its two workers. Left to itself (no results cache in a fresh clone) it takes the
// largest files first, which can start two files that need the Kafka port lock (support/locks.ts) together: one
// worker then idles minutes. The longest files go first, in an order that keeps the lock holders apart; every other
// file follows, largest first. Times in the comments: a warm CI run, 2026-12-07 (vitest 695 s).

import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { statSync } from 'node:fs';

const FIRST = [
  'test/e2e/real-node.e2e.test.ts', // ~240 s; holds the Kafka port lock until its port-forward tests are done
  'test/e2e/postgres.e2e.test.ts', // ~105 s
  'test/e2e/stack.e2e.test.ts', // ~75 s
  'test/e2e/postgres-upgrade.e2e.test.ts', // ~90 s
  'test/integration/dapr-install.test.ts', // ~70 s
  'test/e2e/kafka-upgrade.e2e.test.ts', // ~170 s; the Kafka port lock: starts once the real-node file is done with it
  'test/conformance/dapr-conformance.test.ts', // ~65 s, a small file: by size it came last and ran alone at the end
];

export class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = FIRST.findIndex((name) => f.moduleId.endsWith(name));
      return i === -1 ? FIRST.length : i;
    };
    const size = (f: TestSpecification) => statSync(f.moduleId).size;
    return [...files].sort((a, b) => rank(a) - rank(b) || size(b) - size(a));
  }
}
