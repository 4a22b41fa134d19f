/**
 * quotaEfficiency: how close the workflow comes to the time the RegisterThing quota allows, against a
 * peer that calls the APIs directly. Both run against the same local cloud, the default quotas ×10, real
 * backoff (timeScale 1).
 */
import { DEFAULT_CONCURRENCY } from '../cli/arguments.ts';
import { deviceConcurrency, quotasFromEnvironment } from '../functions/contract.ts';
import { shippedTemplates } from '../templates/index.ts';
import { provisionLikeCdf } from './cdf-peer.ts';
import {
  coreDeviceNames,
  createFleet,
  lostDevices,
  provisionedNames,
  provisionThroughApi,
  REGISTER_THING_DEFAULT_TPS,
  registryCalls,
  scaledQuotaEnvironment,
  startBenchCloud,
} from './harness.ts';
import { round } from './stats.ts';

export interface QuotaEfficiencyOptions {
  devices: number;
  coreDevices: number;
  /** The default quotas are multiplied by this; RegisterThing is 10/s × quotaScale. */
  quotaScale: number;
  /** Also run the peer against the same fleet size and quotas. */
  peer: boolean;
}

export async function quotaEfficiency(options: QuotaEfficiencyOptions) {
  const registerThingTps = REGISTER_THING_DEFAULT_TPS * options.quotaScale;
  const cores = coreDeviceNames(options.coreDevices);
  const cloud = await startBenchCloud({
    timeScale: 1,
    faults: { quotas: false },
    coreDevices: cores,
    environment: scaledQuotaEnvironment(options.quotaScale),
  });
  try {
    const admin = cloud.service.cloud.admin;
    const workflowFleet = await createFleet(cloud, 'wf', options.devices, cores);
    const quotaFloorSeconds = options.devices / registerThingTps;
    const pacing = quotasFromEnvironment(cloud.service.lambdas.find('startProvisioning')?.environment ?? {});

    // Setting the quotas refills every bucket, so each contender starts from full buckets.
    admin.configureFaults({ quotas: true, quotaScale: options.quotaScale });
    admin.resetMetrics();
    // The fleet CLI's default number of requests in flight, as a user would run it.
    const run = await provisionThroughApi(cloud, workflowFleet, { concurrency: DEFAULT_CONCURRENCY });
    const workflowCalls = registryCalls(admin.metrics());
    const workflowLost = lostDevices(workflowFleet, admin.state(), provisionedNames(run));

    const result = {
      devices: options.devices,
      coreDevices: options.coreDevices,
      quotaScale: options.quotaScale,
      registerThingTps,
      // The product's pacing, unchanged: a lone request's Map concurrency; concurrent requests share it.
      deviceStepSeconds: pacing.deviceStepSeconds,
      deviceConcurrency: deviceConcurrency(pacing),
      quotaFloorSeconds,
      seconds: round(run.seconds),
      ratio: round(quotaFloorSeconds / run.seconds, 3),
      throttled: workflowCalls.throttled,
      lost: workflowLost,
      callsByOperation: workflowCalls.byOperation,
    };
    if (!options.peer) return result;

    // Created only now, so that its thousand certificates weigh on neither run's process; setting up
    // a fleet is not what is measured, so the quotas are off meanwhile.
    admin.configureFaults({ quotas: false });
    const peerFleet = await createFleet(cloud, 'cdf', options.devices, cores);
    admin.configureFaults({ quotas: true, quotaScale: options.quotaScale });
    admin.resetMetrics();
    const peer = await provisionLikeCdf(cloud, peerFleet, JSON.stringify(shippedTemplates['thing-with-attributes']));
    const peerCalls = registryCalls(admin.metrics());
    return {
      ...result,
      peer: {
        seconds: round(peer.seconds),
        ratio: round(quotaFloorSeconds / peer.seconds, 3),
        throttled: peerCalls.throttled,
        lost: lostDevices(peerFleet, admin.state(), peer.provisioned),
        callsByOperation: peerCalls.byOperation,
      },
    };
  } finally {
    await cloud.close();
  }
}
