import { fileURLToPath } from 'node:url';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bytesByPackage, esbuildOptionsOf } from '../../../bench/bundles.ts';
import { countHistory, lostDevices, registryCalls } from '../../../bench/harness.ts';
import { type BenchResults, renderMarkdown } from '../../../bench/report.ts';
import { median, percentile, summarize } from '../../../bench/stats.ts';
import type { StateSnapshot } from '../../../local-cloud/store.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('bench stats', () => {
  it('takes nearest-rank percentiles of unsorted samples', () => {
    const samples = [5, 1, 4, 2, 3];
    expect(median(samples)).toBe(3);
    expect(percentile(samples, 99)).toBe(5);
    expect(percentile(samples, 0)).toBe(1);
    expect(summarize(Array.from({ length: 200 }, (_, index) => index + 1))).toEqual({ p50: 100, p99: 198, max: 200 });
    expect(() => percentile([], 50)).toThrow();
  });
});

describe('bench counters', () => {
  it('counts IoT and Greengrass calls, not Step Functions ones', () => {
    const counters = (calls: number, throttled = 0) => ({ calls, throttled, succeeded: calls - throttled, failed: 0 });
    const calls = registryCalls({
      RegisterThing: counters(12, 2),
      BatchAssociateClientDeviceWithCoreDevice: counters(1),
      StartExecution: counters(5),
    });
    expect(calls).toEqual({ calls: 13, throttled: 2, byOperation: { RegisterThing: 12, BatchAssociateClientDeviceWithCoreDevice: 1 } });
  });

  it('counts entered states, Lambda retries and Lambda time from a history', () => {
    const at = (ms: number) => new Date(ms);
    const events: HistoryEvent[] = [
      { id: 1, previousEventId: 0, type: 'TaskStateEntered', timestamp: at(0) },
      { id: 2, previousEventId: 1, type: 'LambdaFunctionScheduled', timestamp: at(0) },
      { id: 3, previousEventId: 2, type: 'LambdaFunctionStarted', timestamp: at(0) },
      { id: 4, previousEventId: 3, type: 'LambdaFunctionFailed', timestamp: at(4) },
      { id: 5, previousEventId: 4, type: 'LambdaFunctionScheduled', timestamp: at(10) },
      { id: 6, previousEventId: 5, type: 'LambdaFunctionStarted', timestamp: at(10) },
      { id: 7, previousEventId: 6, type: 'LambdaFunctionSucceeded', timestamp: at(13) },
      { id: 8, previousEventId: 7, type: 'TaskStateExited', timestamp: at(13) },
      { id: 9, previousEventId: 8, type: 'MapStateEntered', timestamp: at(13) },
    ];
    expect(countHistory(events)).toEqual({ statesEntered: 2, retries: 1, lambdaMs: 7, lambdaInvocations: 2 });
  });

  it('counts a service integration Task (startExecution.sync) as one attempt, not as a negative retry', () => {
    const at = new Date(0);
    const events: HistoryEvent[] = [
      { id: 1, type: 'TaskStateEntered', timestamp: at },
      { id: 2, previousEventId: 1, type: 'TaskScheduled', timestamp: at },
      { id: 3, previousEventId: 2, type: 'TaskStarted', timestamp: at },
      { id: 4, previousEventId: 3, type: 'TaskSucceeded', timestamp: at },
      { id: 5, previousEventId: 4, type: 'TaskStateExited', timestamp: at },
    ];
    expect(countHistory(events)).toEqual({ statesEntered: 1, retries: 0, lambdaMs: 0, lambdaInvocations: 0 });
  });

  it('finds devices that are not present, attached and associated', () => {
    const certificate = (id: string) => `arn:aws:iot:us-east-1:000000000000:cert/${id}`;
    const devices = ['a', 'b', 'c', 'd'].map((name) => ({
      thingName: name,
      principal: certificate(`${name}1`),
      coreDeviceThingName: 'core',
    }));
    const snapshot = {
      things: [{ thingName: 'a' }, { thingName: 'b' }, { thingName: 'c' }],
      thingPrincipals: {
        a: [{ principal: 'a1' }],
        b: [{ principal: 'b1', detachedAt: 1 }],
        c: [{ principal: 'c1' }],
      },
      associations: { core: [{ thingName: 'a' }, { thingName: 'b' }, { thingName: 'c' }] },
    } as unknown as StateSnapshot;
    expect(lostDevices(devices, snapshot, new Set(['a', 'b', 'd']))).toBe(3);
  });
});

describe('bundle helpers', () => {
  it('maps custom.esbuild the way serverless-esbuild does', async () => {
    const options = await esbuildOptionsOf(
      { bundle: true, format: 'esm', outputFileExtension: '.mjs', exclude: [], packager: 'npm' },
      ROOT,
    );
    expect(options).toEqual({ bundle: true, format: 'esm', external: [], plugins: [], outExtension: { '.js': '.mjs' } });
    expect((await esbuildOptionsOf({ bundle: true }, ROOT)).external).toEqual(['aws-sdk']);
  });

  it('loads the plugins module named by custom.esbuild.plugins, relative to the service', async () => {
    const { plugins } = await esbuildOptionsOf({ plugins: './packaging/esbuild-plugins.ts' }, ROOT);
    expect(plugins?.map(({ name }) => name)).toEqual(['tree-shakable-sdk-schemas', 'unbundled-event-streams']);
  });

  it('sums output bytes per package', () => {
    const metafile = {
      inputs: {},
      outputs: {
        'out.mjs': {
          bytes: 60,
          imports: [],
          exports: [],
          inputs: {
            'node_modules/zod/v4/core/schemas.js': { bytesInOutput: 30 },
            'node_modules/@smithy/core/dist-es/index.js': { bytesInOutput: 20 },
            'functions/start.ts': { bytesInOutput: 10 },
          },
        },
      },
    } as unknown as Metafile;
    expect(bytesByPackage(metafile, 2)).toEqual([
      { name: 'zod', bytes: 30 },
      { name: '@smithy/core', bytes: 20 },
    ]);
  });
});

describe('report', () => {
  it('renders the machine, the targets met and missed, and every scaling size', () => {
    const cost = {
      devices: 10,
      transitionsPerDevice: 3,
      billedTransitionsPerDevice: 3,
      apiCallsPerDevice: 3.01,
      apiCallsPerDeviceWithoutRollback: 2.01,
      lost: 0,
    };
    const results: BenchResults = {
      mode: 'full',
      date: '2026-11-23T00:00:00.000Z',
      machine: { cpuModel: 'Test CPU', cores: 2, memoryGiB: 24, node: 'v24.0.0', platform: 'linux-x64' },
      wallSeconds: 100,
      quotaEfficiency: {
        devices: 1000,
        quotaFloorSeconds: 10,
        seconds: 10.5,
        ratio: 0.952,
        throttled: 3,
        lost: 0,
        deviceStepSeconds: 0.03,
        deviceConcurrency: 4,
        peer: { seconds: 9, ratio: 1.1, throttled: 900, lost: 80 },
      },
      fleetRun: {
        devices: 20_000,
        coreDevices: 20,
        quotaScale: 20,
        seconds: 125,
        floorSeconds: 100,
        ratio: 0.8,
        lost: 0,
        peakRssMiB: 800,
        throttled: 10,
      },
      fleetMemory: [
        { devices: 10_000, seconds: 60, devicesPerSecond: 166.7, peakRssMiB: 600, endRssMiB: 550, outcome: 'SUCCEEDED', totals: {} },
        { devices: 100_000, seconds: 600, devicesPerSecond: 166.7, peakRssMiB: 1100, endRssMiB: 800, outcome: 'SUCCEEDED', totals: {} },
      ],
      cost,
      costThrottled: cost,
      latency: { runs: 200, p50Ms: 12, p99Ms: 30, executionP50Ms: 9, executionP99Ms: 27 },
      bundles: {
        importRuns: 5,
        nodeHttpsImportMs: 9,
        functions: [
          {
            name: 'startProvisioning',
            bytes: 500 * 1024,
            importMs: 40,
            fastestImportMs: 35,
            importCpuMs: 30,
            largestPackages: [{ name: 'zod', bytes: 1024 }],
            peer: { bytes: 1600 * 1024, importMs: 100, fastestImportMs: 90, importCpuMs: 75, importRatio: 0.4, cpuRatio: 0.4 },
          },
          {
            name: 'registerThing',
            bytes: 200 * 1024,
            importMs: 30,
            fastestImportMs: 28,
            importCpuMs: 25,
            largestPackages: [],
            peer: { bytes: 1500 * 1024, importMs: 40, fastestImportMs: 36, importCpuMs: 50, importRatio: 0.75, cpuRatio: 0.5 },
          },
          { name: 'planAssociations', bytes: 40 * 1024, importMs: 9, fastestImportMs: 8, importCpuMs: 7, largestPackages: [] },
        ],
      },
      scaling: [1000, 10_000].map((devices) => ({ devices, seconds: devices / 300, devicesPerSecond: 300, peakRssMB: 300, lost: 0 })),
    };
    const markdown = renderMarkdown(results);
    expect(markdown).toContain('Test CPU, 2 cores, 24 GiB · Node v24.0.0');
    expect(markdown).toMatch(/quotaEfficiency.*\| 0\.952 .*\| yes \|/);
    expect(markdown).toMatch(/rollbackOnFailure true \(default\) \| 3\.01 \| ≤ 3\.01 \| yes \|/);
    expect(markdown).toMatch(/bundles: largest \(startProvisioning\) \| 500 KiB .*\*\*no\*\*/);
    expect(markdown).toMatch(
      /fleetRun: 20000 devices over 20 core devices.*\| 0\.8 \(125 s, 10 throttled, 0 lost, peak RSS 800 MiB\) \| ≥ 0\.85, 0 lost, ≤ 1024 MiB \| \*\*no\*\* \|/,
    );
    expect(markdown).toMatch(/fleetMemory: 10,000 devices.*\| 600 MiB \(550 MiB at the end; 60 s, SUCCEEDED\) \| ≤ 1024 MiB \| yes \|/);
    expect(markdown).toMatch(/fleetMemory: 100,000 devices.*\| 1100 MiB .*\| \*\*no\*\* \|/);
    expect(markdown).toMatch(/fleetMemory: peak at 100,000 \/ at 10,000 devices \| 1\.83 \| ≤ 1\.3 \| \*\*no\*\* \|/);
    expect(markdown).toMatch(/cold import \/ its peer's.*highest: registerThing.*\| 0\.75 \(30 \/ 40 ms\) \| ≤ 0\.6 each \| \*\*no\*\* \|/);
    expect(markdown).toContain('| startProvisioning | 500 KiB | 40 · 35 ms | 1600 KiB, 100 · 90 ms | 0.4 | 30 / 75 ms = 0.4 | zod 1 KiB |');
    expect(markdown).toMatch(/the same in CPU time \(highest: registerThing\) \| 0\.5 \(25 \/ 50 ms\) \|/);
    expect(markdown).toContain('| planAssociations | 40 KiB | 9 · 8 ms | — (no SDK client) | — | 7 ms |  |');
    expect(markdown).toContain("`import('node:https')` alone, which every bundle with an SDK client pays, took 9 ms");
    expect(markdown).toContain('| 10000 |');
  });
});
