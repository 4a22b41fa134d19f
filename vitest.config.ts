import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // fast-check's fixed seed (FC_SEED overrides it), and the path-coverage collector of `npm run paths`.
    // quiet-logs: the handlers' Powertools lines, shown only for a test that fails (as `silent` does for console).
    setupFiles: ['./test/support/vitest-setup.ts', './test/support/quiet-logs.ts'],
    // Integration tests drive whole executions through the local cloud over HTTP; these are
    // guards against a hung run, not timing assertions.
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // The handlers log JSON lines like Lambda does; show them only for a test that fails.
    silent: 'passed-only',
    reporters: ['default', './test/support/summary-line-reporter.ts'],
  },
});
