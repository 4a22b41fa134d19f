import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';
import { expectScenarioHeld } from './scenario-assertions.ts';
import { CORE_DEVICES, runScenario, scenarios } from './scenarios.ts';

/** The scenarios that need no real time: retries and waits are instant (timeScale 0). */
describe('fault-injection scenarios, instant retries', () => {
  let cloud: TestServiceCloud;
  beforeAll(async () => {
    cloud = await startTestServiceCloud({ coreDevices: CORE_DEVICES, timeScale: 0 });
  });
  afterAll(() => cloud.close());

  for (const scenario of scenarios.filter((candidate) => candidate.timeScale === 0)) {
    it(`${scenario.name}: ${scenario.faultDescription}`, async () => {
      expectScenarioHeld(scenario, await runScenario(cloud, scenario));
    }, 120_000);
  }
});
