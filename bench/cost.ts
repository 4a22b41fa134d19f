/**
 * cost: state transitions and IoT + Greengrass calls per device, with and without rollback (rollback
 * needs InspectThing's DescribeThing), with no faults and with 30% throttling on every API. Counts do
 * not depend on time, so the quotas are off and backoff is not waited for (timeScale 0).
 */
import {
  type BenchCloud,
  coreDeviceNames,
  createFleet,
  historyCounts,
  lostDevices,
  provisionedNames,
  provisionThroughApi,
  registryCalls,
  startBenchCloud,
} from './harness.ts';
import { round } from './stats.ts';

export interface CostOptions {
  devices: number;
  coreDevices: number;
}

const THROTTLE_EVERYWHERE = { '*': 0.3 };

async function measure(cloud: BenchCloud, prefix: string, options: CostOptions & { rollbackOnFailure: boolean; throttle: boolean }) {
  const admin = cloud.service.cloud.admin;
  const fleet = await createFleet(cloud, prefix, options.devices, coreDeviceNames(options.coreDevices));
  admin.configureFaults({ throttle: options.throttle ? THROTTLE_EVERYWHERE : {} });
  admin.resetMetrics();
  const run = await provisionThroughApi(cloud, fleet, {
    concurrency: Math.ceil(options.devices / 200),
    requestOptions: { rollbackOnFailure: options.rollbackOnFailure },
  });
  const calls = registryCalls(admin.metrics());
  // Reading the histories is not part of the run: no throttling for it.
  admin.configureFaults({ throttle: {} });
  const history = await historyCounts(cloud, run.executionArns);
  return {
    transitionsPerDevice: round(history.statesEntered / options.devices, 3),
    /** AWS bills a retry as a transition too. */
    billedTransitionsPerDevice: round((history.statesEntered + history.retries) / options.devices, 3),
    apiCallsPerDevice: round(calls.calls / options.devices, 3),
    lambdaInvocationsPerDevice: round(history.lambdaInvocations / options.devices, 3),
    /** In-process handler time: what a warm Lambda spends besides network round trips to AWS. */
    lambdaMsPerInvocation: round(history.lambdaMs / history.lambdaInvocations, 2),
    lost: lostDevices(fleet, admin.state(), provisionedNames(run)),
    callsByOperation: calls.byOperation,
  };
}

export async function cost(options: CostOptions) {
  const cloud = await startBenchCloud({ timeScale: 0, faults: { quotas: false }, coreDevices: coreDeviceNames(options.coreDevices) });
  try {
    const pair = async (throttle: boolean) => {
      const withRollback = await measure(cloud, throttle ? 'ct' : 'c', { ...options, rollbackOnFailure: true, throttle });
      const withoutRollback = await measure(cloud, throttle ? 'ctn' : 'cn', { ...options, rollbackOnFailure: false, throttle });
      return {
        ...withRollback,
        apiCallsPerDeviceWithoutRollback: withoutRollback.apiCallsPerDevice,
        transitionsPerDeviceWithoutRollback: withoutRollback.transitionsPerDevice,
        callsByOperationWithoutRollback: withoutRollback.callsByOperation,
      };
    };
    return {
      cost: { devices: options.devices, ...(await pair(false)) },
      costThrottled: { devices: options.devices, ...(await pair(true)) },
    };
  } finally {
    await cloud.close();
  }
}
