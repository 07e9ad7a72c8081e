import { defineConfig } from 'vitest/config';
import { HeavyFirstSequencer } from './test/support/sequencer.js';

// Layers: test/unit (fake exec, fake clock, nothing provisioned), test/cli (the entry scripts as processes, no
// cluster), test/integration (real PostgreSQL, Kafka, API server, real node), test/e2e (the entry scripts against
// the clusters), test/conformance. All run in one `vitest run`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // Real servers per file; two cores: keep file-level parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    sequence: { sequencer: HeavyFirstSequencer },
    reporters: ['default'],
  },
});
