import { defineConfig } from 'vitest/config';

// Layers: test/unit (fake exec, fake clock), test/integration (real PostgreSQL, Kafka, API server),
// test/e2e (the entry scripts against the simulated cluster). All run in one `vitest run`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // Real servers per file; two cores: keep file-level parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    reporters: ['default'],
  },
});
