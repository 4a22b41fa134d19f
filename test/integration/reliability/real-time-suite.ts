import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';
import { expectScenarioHeld } from './scenario-assertions.ts';
import { CORE_DEVICES, REAL_TIME_SCALE, runScenario, type Scenario } from './scenarios.ts';

/**
 * The scenarios whose faults live in wall-clock time: quota buckets refill per second and a detached
 * principal stays attached for a while. Retries therefore wait (scaled by REAL_TIME_SCALE). One cloud per
 * test file: the handlers build their clients, with the cloud's endpoint, when first imported.
 */
export function describeRealTimeScenarios(title: string, pacingEnvironment: Record<string, string>, group: Scenario[]): void {
  describe(title, () => {
    let cloud: TestServiceCloud;
    beforeAll(async () => {
      // serverless.yml's local stage reads these when the project is loaded: the pacing formula sizes the
      // device Map from them.
      Object.assign(process.env, pacingEnvironment);
      cloud = await startTestServiceCloud({ coreDevices: CORE_DEVICES, timeScale: REAL_TIME_SCALE });
    });
    afterAll(async () => {
      // A worker process may run other test files next.
      for (const name of Object.keys(pacingEnvironment)) delete process.env[name];
      await cloud.close();
    });

    for (const scenario of group) {
      it(`${scenario.name}: ${scenario.faultDescription}`, async () => {
        expectScenarioHeld(scenario, await runScenario(cloud, scenario));
      }, 240_000);
    }
  });
}
