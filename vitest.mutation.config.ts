import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The tests `npm run mutation` (stryker.config.json) runs against each mutant: those that decide the fate of a
 * mutant of functions/domain, aws, api, tasks and lambda in seconds. A mutant runs the tests that cover it, and on 2
 * cores a suite that starts executions by the hundred makes each of thousands of mutants cost minutes, so only
 * these are in: the unit tests of functions/ (test/unit/functions) and of the CLI, the task functions and the IoT,
 * Greengrass and DynamoDB adapters over the local cloud (test/integration/functions, without the hung calls that wait
 * on wall-clock deadlines), the HTTP and EventBridge triggers, the workflow paths that decide what is removed
 * (deprovision, deletion-paths, uncaught-failure) and the completion events, the invariants checker, the ASL
 * retriers' error names and the OpenAPI contract.
 * Left out: the emulator's own suites, which reach none of those folders; the end-to-end CLI runs (child processes,
 * which Stryker's coverage cannot see); and the suites that run the same decisions at scale or under
 * load (fault and real-time scenarios, largest requests, retriers, device leases, idempotency, cancel, fleet runs, the
 * streaming fleet steps on 100,000 devices: test/integration/functions/api/fleet-run-routes.test.ts runs them on a few)
 * or every path of the provision machine (provision.test.ts: its 150-device and CSR runs would take the run past
 * an hour; test/integration/functions/aws/iot-operations.test.ts drives the IoT calls of its rollbacks and retired certificates
 * directly). A mutant covered only by those counts as surviving or untested.
 */
const narrowed = process.env.MUTATION_TESTS?.split(',').filter(Boolean);
const skipped = process.env.MUTATION_SKIP?.split(',').filter(Boolean) ?? [];
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: narrowed ?? [
      'test/unit/functions/**/*.test.ts',
      'test/integration/functions/**/*.test.ts',
      'test/integration/workflow/deprovision.test.ts',
      'test/integration/workflow/deletion-paths.test.ts',
      'test/integration/workflow/uncaught-failure.test.ts',
      'test/integration/workflow/completion-events.test.ts',
      'test/integration/reliability/invariants.test.ts',
      'test/unit/statemachines/asl.test.ts',
      'test/unit/docs/openapi.test.ts',
      'test/unit/cli/**/*.test.ts',
    ],
    exclude: [
      'test/integration/functions/hung-call.test.ts',
      'test/integration/functions/validate-manifest.test.ts',
      'test/integration/functions/write-fleet-report.test.ts',
      ...skipped,
    ],
    reporters: ['default'],
  },
});
