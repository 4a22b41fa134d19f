/**
 * scaling: one fleet size, in a process of its own (the runner starts one per size so that peaks do not
 * bleed): the local cloud and the service with the quotas off and no waiting (timeScale 0), the fleet
 * submitted through the local HTTP API with the fleet CLI's default of 4 requests in flight.
 */
import { DEFAULT_CONCURRENCY } from '../cli/index.ts';
import { coreDeviceNames, createFleet, lostDevices, provisionedNames, provisionThroughApi, startBenchCloud } from './harness.ts';
import { round } from './stats.ts';

export interface ScalingOptions {
  devices: number;
  coreDevices: number;
}

const RSS_SAMPLE_MS = 50;

export async function scaling(options: ScalingOptions) {
  const cores = coreDeviceNames(options.coreDevices);
  const cloud = await startBenchCloud({ timeScale: 0, faults: { quotas: false }, coreDevices: cores });
  try {
    const fleet = await createFleet(cloud, 's', options.devices, cores);
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), RSS_SAMPLE_MS);
    const run = await provisionThroughApi(cloud, fleet, { concurrency: DEFAULT_CONCURRENCY }).finally(() => clearInterval(sampler));
    return {
      devices: options.devices,
      seconds: round(run.seconds),
      devicesPerSecond: round(options.devices / run.seconds, 1),
      /** Sampled every 50 ms while the fleet is provisioned. */
      peakRssMB: round(peakRss / 2 ** 20, 1),
      /** The whole process, setup included (kernel-reported, KiB → MiB). */
      maxRssMB: round(process.resourceUsage().maxRSS / 1024, 1),
      lost: lostDevices(fleet, cloud.service.cloud.admin.state(), provisionedNames(run)),
    };
  } finally {
    await cloud.close();
  }
}
