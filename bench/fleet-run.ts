/**
 * fleetRun: one manifest provisioned server-side by a fleet run (docs/fleet-runs.md), through the service's
 * public entry points: the manifest put in the fleet bucket with the S3 client, `POST /fleet-runs` and
 * `GET /fleet-runs/{id}` on the local HTTP API. The local cloud enforces the default quotas × quotaScale
 * with real backoff (timeScale 1), as quotaEfficiency does for requests; the ratio is the RegisterThing floor
 * over the measured time, from the POST to the GET that answers the run's outcome.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type HistoryEvent, ListMapRunsCommand, paginateListExecutions } from '@aws-sdk/client-sfn';
import type { DeviceReportEntry } from '../functions/contract.ts';
import {
  type BenchCloud,
  coreDeviceNames,
  createFleet,
  executionHistory,
  type FleetDevice,
  historyCounts,
  lostDevices,
  REGISTER_THING_DEFAULT_TPS,
  registryCalls,
  scaledQuotaEnvironment,
  startBenchCloud,
} from './harness.ts';
import { round } from './stats.ts';

export interface FleetRunOptions {
  devices: number;
  coreDevices: number;
  /** The default quotas are multiplied by this; RegisterThing is 10/s × quotaScale. */
  quotaScale: number;
}

const POLL_MS = 250;
const RSS_SAMPLE_MS = 100;
const FLEET_RUN_ID = 'bench-fleet-run';

/** The fleet CLI's CSV manifest (docs/fleet-cli.md), devices listed core device by core device. */
function csvManifest(fleet: readonly FleetDevice[]): string {
  const rows = fleet.map((device) => `${device.thingName},${device.principal},${device.coreDeviceThingName}`);
  return `${['thingName,principal,coreDeviceThingName', ...rows].join('\n')}\n`;
}

interface FleetRunStatus {
  executionArn: string;
  executionStatus: string;
  outcome?: string;
  report?: { json: string };
  batches?: { total: number; done: number; failed: number };
  error?: { code: string; message: string };
}

/** Seconds each top-level state of the fleet execution took, from its `*StateEntered` to its `*StateExited`. */
function stateSeconds(events: readonly HistoryEvent[]): Record<string, number> {
  const entered = new Map<string, number>();
  const seconds: Record<string, number> = {};
  for (const event of events) {
    const name = event.stateEnteredEventDetails?.name;
    if (name !== undefined) entered.set(name, event.timestamp!.getTime());
    const exited = event.stateExitedEventDetails?.name;
    const start = exited === undefined ? undefined : entered.get(exited);
    if (exited !== undefined && start !== undefined) seconds[exited] = round((event.timestamp!.getTime() - start) / 1000);
  }
  return seconds;
}

async function executionArns(cloud: BenchCloud, filter: { stateMachineArn: string } | { mapRunArn: string }): Promise<string[]> {
  const arns: string[] = [];
  for await (const page of paginateListExecutions({ client: cloud.sfn }, filter))
    arns.push(...(page.executions ?? []).map(({ executionArn }) => executionArn!));
  return arns;
}

/**
 * What a fleet run is billed for, per device: the `*StateEntered` events (and retries) of the fleet execution, its
 * batches' child executions and their requests' executions, and the Lambda invocations among them. Read after the
 * timing, with the quotas off.
 */
async function costCounts(cloud: BenchCloud, fleetExecutionArn: string, devices: number) {
  const { mapRuns } = await cloud.sfn.send(new ListMapRunsCommand({ executionArn: fleetExecutionArn }));
  const batches = await executionArns(cloud, { mapRunArn: mapRuns![0]!.mapRunArn! });
  const requests = await executionArns(cloud, { stateMachineArn: cloud.service.stateMachineArn('provision') });
  const counts = await historyCounts(cloud, [fleetExecutionArn, ...batches, ...requests]);
  return {
    transitionsPerDevice: round(counts.statesEntered / devices, 3),
    billedTransitionsPerDevice: round((counts.statesEntered + counts.retries) / devices, 3),
    lambdaInvocationsPerDevice: round(counts.lambdaInvocations / devices, 3),
    /** In-process: a handler's own time here, not Lambda's, where each waits on an AWS round trip. */
    lambdaMsPerInvocation: round(counts.lambdaMs / counts.lambdaInvocations, 2),
  };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function fleetRun(options: FleetRunOptions) {
  const cores = coreDeviceNames(options.coreDevices);
  const cloud = await startBenchCloud({
    timeScale: 1,
    faults: { quotas: false },
    coreDevices: cores,
    environment: scaledQuotaEnvironment(options.quotaScale),
  });
  const s3 = new S3Client({ ...cloud.clientConfig, forcePathStyle: true });
  try {
    const admin = cloud.service.cloud.admin;
    const bucket = cloud.service.lambdas.find('startFleetRun')?.environment.FLEET_BUCKET;
    if (!bucket) throw new Error('serverless.yml gives startFleetRun no FLEET_BUCKET');
    const fleet = await createFleet(cloud, 'fr', options.devices, cores);
    const manifestKey = `staged/${FLEET_RUN_ID}.csv`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: csvManifest(fleet) }));
    const registerThingTps = REGISTER_THING_DEFAULT_TPS * options.quotaScale;
    const floorSeconds = options.devices / registerThingTps;

    // Setting the quotas refills every bucket: the run starts from full buckets, as quotaEfficiency's do.
    admin.configureFaults({ quotas: true, quotaScale: options.quotaScale });
    admin.resetMetrics();
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), RSS_SAMPLE_MS);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let status: FleetRunStatus;
    try {
      const response = await fetch(new URL('fleet-runs', cloud.api.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fleetRunId: FLEET_RUN_ID, manifest: `s3://${bucket}/${manifestKey}`, action: 'provision' }),
      });
      if (response.status !== 202) throw new Error(`POST /fleet-runs: ${response.status} ${await response.text()}`);
      const statusUrl = new URL(`fleet-runs/${FLEET_RUN_ID}`, cloud.api.url).href;
      do {
        await sleep(POLL_MS);
        status = await getJson<FleetRunStatus>(statusUrl);
      } while (status.executionStatus === 'RUNNING');
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const calls = registryCalls(admin.metrics());
    admin.configureFaults({ quotas: false });

    if (!status.report) throw new Error(`the fleet run ended ${status.executionStatus} without a report: ${JSON.stringify(status.error)}`);
    const reportKey = status.report.json.slice(`s3://${bucket}/`.length);
    const report = JSON.parse(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }))).Body!.transformToString(),
    ) as {
      devices: DeviceReportEntry[];
    };
    const provisioned = new Set(report.devices.filter((device) => device.status === 'PROVISIONED').map((device) => device.thingName));
    return {
      devices: options.devices,
      coreDevices: options.coreDevices,
      quotaScale: options.quotaScale,
      registerThingTps,
      seconds: round(seconds),
      floorSeconds,
      ratio: round(floorSeconds / seconds, 3),
      lost: lostDevices(fleet, admin.state(), provisioned),
      /** The whole process (local cloud, handlers and the fleet's state), sampled every 100 ms while the run goes. */
      peakRssMiB: round(peakRss / 2 ** 20, 1),
      /** CPU time of the process (the local cloud and the handlers run in it) during the run: near `seconds`, the machine, not the quotas, set the pace. */
      cpuSeconds: round((cpu.user + cpu.system) / 1e6),
      stateSeconds: stateSeconds(await executionHistory(cloud.sfn, status.executionArn)),
      ...(await costCounts(cloud, status.executionArn, options.devices)),
      outcome: status.outcome,
      batches: status.batches,
      throttled: calls.throttled,
      callsByOperation: calls.byOperation,
    };
  } finally {
    s3.destroy();
    await cloud.close();
  }
}
