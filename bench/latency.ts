/**
 * latency: one-device requests, one after the other, POSTed to the local HTTP API and followed with GET
 * every 2 ms until SUCCEEDED (the client's view). The same runs also time the execution's own completion
 * in-process (`waitForExecution`), which the polling cannot see more precisely than its interval and its
 * own CPU share. Quotas off, timeScale 1 (no fault, so nothing waits).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createFleetApi } from '../cli/index.ts';
import { PROVISIONING } from '../functions/contract.ts';
import { coreDeviceNames, createFleet, historyCounts, startBenchCloud } from './harness.ts';
import { round, summarize } from './stats.ts';

export interface LatencyOptions {
  runs: number;
}

const POLL_INTERVAL_MS = 2;

export async function latency(options: LatencyOptions) {
  const [core] = coreDeviceNames(1);
  const cloud = await startBenchCloud({ timeScale: 1, faults: { quotas: false }, coreDevices: [core!] });
  try {
    const api = createFleetApi({ apiUrl: new URL(cloud.api.url), workflow: PROVISIONING });
    const fleet = await createFleet(cloud, 'lat', options.runs, [core!]);
    const endToEnd: number[] = [];
    const execution: number[] = [];
    const executionArns: string[] = [];
    for (const [index, device] of fleet.entries()) {
      const started = performance.now();
      const accepted = await api.submit({
        requestId: `latency-${index}`,
        thingPrincipalType: 'EXCLUSIVE_THING',
        rollbackOnFailure: true,
        devices: [device],
      });
      if (!accepted.ok) throw new Error(`latency run ${index} not accepted: ${accepted.failure.message}`);
      executionArns.push(accepted.value.executionArn);
      // Started before the polling, so that it sees the completion as it happens; awaited below, so no sample is missed.
      const executionMs = cloud.service.stepFunctions.waitForExecution(accepted.value.executionArn).then(() => performance.now() - started);
      for (;;) {
        const status = await api.status(`latency-${index}`);
        if (!status.ok) throw new Error(`latency run ${index}: ${status.failure.message}`);
        if (status.value.executionStatus === 'SUCCEEDED') break;
        if (status.value.executionStatus !== 'RUNNING') throw new Error(`latency run ${index} ended ${status.value.executionStatus}`);
        await sleep(POLL_INTERVAL_MS);
      }
      endToEnd.push(performance.now() - started);
      execution.push(await executionMs);
    }
    const history = await historyCounts(cloud, executionArns);
    const endToEndStats = summarize(endToEnd);
    const executionStats = summarize(execution);
    return {
      runs: options.runs,
      measuredBy: `POST then GET every ${POLL_INTERVAL_MS} ms until SUCCEEDED`,
      p50Ms: endToEndStats.p50,
      p99Ms: endToEndStats.p99,
      maxMs: endToEndStats.max,
      executionP50Ms: executionStats.p50,
      executionP99Ms: executionStats.p99,
      lambdaInvocationsPerRequest: round(history.lambdaInvocations / options.runs, 2),
      lambdaMsPerInvocation: round(history.lambdaMs / history.lambdaInvocations, 2),
    };
  } finally {
    await cloud.close();
  }
}
