import { expect } from 'vitest';
import type { Scenario, ScenarioResult } from './scenarios.ts';

/** What every scenario must show; the scenario's own data says which failures are allowed. */
export function expectScenarioHeld(scenario: Scenario, result: ScenarioResult): void {
  expect(result.devices).toBeGreaterThanOrEqual(100);
  expect(result.cores).toBeGreaterThanOrEqual(3);
  expect(result.first.violations).toEqual([]);

  // The fault was really met, not configured and missed.
  if (scenario.retriedError) expect(result.first.failedAttempts[scenario.retriedError] ?? 0).toBeGreaterThan(0);
  if (scenario.redrivesEntries) expect(result.first.redrives).toBeGreaterThan(0);

  const failed = result.first.summary.devices.filter((device) => device.status === 'FAILED');
  if (result.expectedFailures) {
    const { thingNames, step, code } = result.expectedFailures;
    expect(failed.map((device) => device.thingName).sort()).toEqual([...thingNames].sort());
    for (const device of failed) expect(device.error).toMatchObject({ step, code });
  } else if (scenario.permanentFaultCode) {
    expect(failed.length).toBeGreaterThan(0);
    for (const device of failed) expect(device.error?.code).toBe(scenario.permanentFaultCode);
  } else {
    // Transient faults only: the retries must absorb every one of them.
    expect(failed).toEqual([]);
  }

  expect(result.rerun.violations).toEqual([]);
  expect(result.rerun.failed).toBe(0);
  expect(result.rerun.succeeded).toBe(result.devices);
}
