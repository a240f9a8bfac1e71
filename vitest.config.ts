import { defineConfig } from 'vitest/config';

// Integration tests start real Python workers and daemons: give them time, and run at most two
// files at once on these 2-core machines.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
