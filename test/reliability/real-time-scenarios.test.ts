import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServiceCloud, type TestServiceCloud } from '../support/service-cloud.ts';
import { expectScenarioHeld } from './scenario-assertions.ts';
import { CORE_DEVICES, REAL_TIME_SCALE, runScenario, scenarios } from './scenarios.ts';

const PACING_ENVIRONMENT = { REGISTER_THING_TPS: '10', ATTACH_THING_PRINCIPAL_TPS: '100', DESCRIBE_THING_TPS: '350', DEVICE_STEP_SECONDS: '0.1' };

/**
 * The scenarios whose faults live in wall-clock time: quota buckets refill per second and a detached
 * principal stays attached for a while. Retries therefore wait (scaled by REAL_TIME_SCALE).
 */
describe('fault-injection scenarios, real-time retries', () => {
  let cloud: TestServiceCloud;
  beforeAll(async () => {
    // serverless.yml's local stage reads these when the project is loaded: the pacing formula then
    // sizes the device Map for the same quotas the local cloud enforces (the AWS defaults). A device's
    // steps take milliseconds here, not the 0.5 s of Lambda on AWS; 0.1 s gives 2 lanes. With 0.5 s the
    // 6 lanes start each next device at once, and a device whose backoff has grown loses every race
    // for RegisterThing tokens to fresh ones (with 10 throttle retries, before they became 30, 1 device in
    // 120 ran out of them: docs/reliability.md).
    Object.assign(process.env, PACING_ENVIRONMENT);
    cloud = await startTestServiceCloud({ coreDevices: CORE_DEVICES, timeScale: REAL_TIME_SCALE });
  });
  afterAll(async () => {
    // A worker process may run other test files next.
    for (const name of Object.keys(PACING_ENVIRONMENT)) delete process.env[name];
    await cloud.close();
  });

  for (const scenario of scenarios.filter((candidate) => candidate.timeScale === REAL_TIME_SCALE)) {
    it(`${scenario.name}: ${scenario.faultDescription}`, async () => {
      expectScenarioHeld(scenario, await runScenario(cloud, scenario));
    }, 120_000);
  }
});
