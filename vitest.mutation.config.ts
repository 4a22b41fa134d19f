import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The tests `npm run mutation` (stryker.config.json) runs against each mutant: those that decide the fate of a
 * mutant of functions/domain and functions/commons in seconds. A mutant runs the tests that cover it, and on 2
 * cores a suite that starts executions by the hundred makes each of thousands of mutants cost minutes, so only
 * these are in: the unit tests (test/domain), the task functions and the IoT and Greengrass adapters against the
 * local cloud (test/functions, without the hung calls that wait on wall-clock deadlines), the HTTP and EventBridge
 * triggers, the workflow paths that decide what is removed (deprovision, deletion-paths, uncaught-failure) and the
 * completion events, the invariants checker, the ASL retriers' error names, the OpenAPI contract and the CLI's
 * unit tests (the fleet modules of functions/domain).
 * Left out: the emulator's own suites, which reach neither directory; the end-to-end CLI runs (child processes,
 * which Stryker's coverage cannot see); and the suites that run the same decisions at scale or under
 * load (fault and real-time scenarios, largest requests, retriers, device leases, idempotency, cancel, fleet runs)
 * or every path of the provision machine (provision.test.ts: its 150-device and CSR runs would take the run past
 * an hour; test/functions/iot-operations.test.ts drives the IoT calls of its rollbacks and retired certificates
 * directly). A mutant covered only by those counts as surviving or untested.
 */
const narrowed = process.env.MUTATION_TESTS?.split(',').filter(Boolean);
const skipped = process.env.MUTATION_SKIP?.split(',').filter(Boolean) ?? [];
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: narrowed ?? [
      'test/domain/**/*.test.ts',
      'test/functions/**/*.test.ts',
      'test/workflow/deprovision.test.ts',
      'test/workflow/deletion-paths.test.ts',
      'test/workflow/uncaught-failure.test.ts',
      'test/workflow/completion-events.test.ts',
      'test/reliability/invariants.test.ts',
      'test/deploy/asl.test.ts',
      'test/docs/openapi.test.ts',
      'test/cli/**/*.test.ts',
    ],
    exclude: ['test/functions/hung-call.test.ts', 'test/cli/*.e2e.test.ts', ...skipped],
    reporters: ['default'],
  },
});
