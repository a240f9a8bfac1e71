import { defineConfig } from 'vitest/config';

/**
 * Suites that depend on process facts (start times, groups, sessions, environments, open files,
 * RSS), run a second time with the ps source (SNAKEPIT_PROC_FACTS=ps, as on macOS): the variable
 * is set in the test process and inherited by every CLI and daemon the suites start.
 */
const PS_SUITES = [
  'test/chaos/agent-kill.test.ts',
  'test/integration/cleanup.test.ts',
  'test/integration/orphans.test.ts',
  'test/integration/proc-sources.test.ts',
  'test/integration/recycle-rss.test.ts',
  'test/security/forged-registry.test.ts',
  'test/security/home-trust.test.ts',
  'test/unit/lockfile.test.ts',
  'test/unit/registry.test.ts',
];

// Integration tests start real Python workers and daemons: give them time, and run at most two
// files at once on these 2-core machines.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'ps-facts', include: PS_SUITES, env: { SNAKEPIT_PROC_FACTS: 'ps' } } },
    ],
  },
});
