import { expect } from 'vitest';
import { isLeftToStateMachineRetry } from '../../../functions/domain/errors.ts';
import type { Scenario, ScenarioResult } from './scenarios.ts';

/** What every scenario must show; the scenario's own data says which failures are allowed. */
export function expectScenarioHeld(scenario: Scenario, result: ScenarioResult): void {
  /** A transient error that outlasted its retries, where the scenario's faults allow one. */
  const ranOutOfRetries = (code: string | undefined) =>
    scenario.retriesMayRunOut === true && isLeftToStateMachineRetry({ name: code ?? '' });
  expect(result.devices).toBeGreaterThanOrEqual(100);
  expect(result.cores).toBeGreaterThanOrEqual(3);
  expect(result.first.violations).toEqual([]);

  // The fault was really met, not configured and missed.
  if (scenario.retriedError) expect(result.first.failedAttempts[scenario.retriedError] ?? 0).toBeGreaterThan(0);
  if (scenario.redrivesEntries) expect(result.first.redrives).toBeGreaterThan(0);
  // The cancel was accepted while the run was under way. How many devices it left not started depends on how
  // far the run got meanwhile, which the machine's load decides: the invariants below hold either way, and
  // test/integration/workflow/cancel.test.ts shows devices left not started where the timing is held.
  if (scenario.cancel) expect(result.first.cancel?.statusCode).toBe(202);
  else expect(result.first.notStarted).toBe(0);

  const failed = result.first.summary.devices.filter((device) => device.status === 'FAILED');
  if (result.expectedFailures) {
    const causes = new Map(
      result.expectedFailures.flatMap(({ thingNames, step, code }) => thingNames.map((thingName) => [thingName, { step, code }] as const)),
    );
    const failedNames = new Set(failed.map((device) => device.thingName));
    expect(
      [...causes.keys()].filter((thingName) => !failedNames.has(thingName)),
      'devices that should have failed',
    ).toEqual([]);
    for (const device of failed) {
      // A call whose retries ran out fails its device earlier than its cause, or one that has none.
      if (ranOutOfRetries(device.error?.code)) continue;
      expect(device.error, device.thingName).toMatchObject(causes.get(device.thingName) ?? { step: 'none expected' });
    }
    expect(result.first.incompleteRollbacks).toBe(0);
  } else if (scenario.permanentFaultCode) {
    expect(failed.filter((device) => device.error?.code === scenario.permanentFaultCode).length).toBeGreaterThan(0);
    for (const device of failed) if (!ranOutOfRetries(device.error?.code)) expect(device.error?.code).toBe(scenario.permanentFaultCode);
  } else {
    // Transient faults only: the retries must absorb every one of them, but where the scenario says they may run out.
    expect(failed.filter((device) => !ranOutOfRetries(device.error?.code))).toEqual([]);
  }

  expect(result.rerun.violations).toEqual([]);
  expect(result.rerun.notStarted).toBe(0);
  expect(result.rerun.failed).toBe(0);
  expect(result.rerun.succeeded).toBe(result.devices);
}
