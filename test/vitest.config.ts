import { defineConfig } from 'vitest/config';

// Tests talk to real peers (Redis, loopback DNS and SMTP servers), so they get generous timeouts
// and run files in parallel forks; each test uses its own Redis key prefix so files never collide.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // Tests that spawn the CLI run the compiled build (dist/cli/bin.js), as users do: build it first.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
