import { describe, expect, it, vi } from 'vitest';
import type { PlannedDevice } from '../../../../functions/domain/fleet-manifest.ts';
import {
  batchRequestId,
  compareDeviceOrder,
  deviceOrder,
  type FleetBatch,
  FleetReportTally,
  fleetBatchConcurrency,
  fleetRunKeys,
  fleetRunOwner,
  manifestProblemsReport,
  parseS3Uri,
  uploadedManifestRunId,
} from '../../../../functions/domain/fleet-run.ts';
import { fleetRunProgress } from '../../../../functions/domain/fleet-run-status.ts';
import type { RequestSummary } from '../../../../functions/domain/records.ts';

const OPTIONS = { coreDeviceThingName: 'core-b', thingPrincipalType: 'EXCLUSIVE_THING' as const, rollbackOnFailure: true };
const planned = (index: number, coreDeviceThingName?: string): PlannedDevice => ({
  index,
  line: index + 2,
  where: `line ${index + 2}`,
  device: { thingName: `d${index}`, ...(coreDeviceThingName && { coreDeviceThingName }) },
});
const batch = (first: number, devices: PlannedDevice[]): string =>
  JSON.stringify({
    BatchInput: { fleetRunId: 'run', action: 'provision', options: OPTIONS, requestDigest: 'digest' },
    Items: devices.map((device, offset) => ({ position: first + offset, planned: device })),
  } satisfies FleetBatch);

describe('a fleet run report', () => {
  const devices = [0, 1, 2, 3, 4, 5].map((index) => planned(index));
  const summary: RequestSummary = {
    requestId: 'run-0',
    status: 'PARTIAL',
    counts: { requested: 2, succeeded: 1, failed: 1, rolledBack: 1 },
    devices: [
      { thingName: 'd0', coreDeviceThingName: 'core-b', status: 'PROVISIONED', thingArn: 'arn:thing/d0' },
      {
        thingName: 'd1',
        coreDeviceThingName: 'core-b',
        status: 'FAILED',
        error: { step: 'associate', code: 'ResourceNotFoundException', message: 'no core' },
      },
    ],
  };
  // As writeFleetReport reads them: the result files, then the run's devices for those no result named. Made in
  // each test, so that the mutation run credits the tally's code to the tests that check it.
  const buildReport = () => {
    const tally = new FleetReportTally('run', 'provision');
    const fromResults = [
      ...tally.batch({
        kind: 'succeeded',
        entry: {
          Input: batch(0, devices.slice(0, 2)),
          Output: JSON.stringify({ executionArn: 'arn:run-0', status: 'SUCCEEDED', summary }),
        },
      }),
      ...tally.batch({
        kind: 'failed',
        entry: {
          Input: batch(2, devices.slice(2, 4)),
          Error: 'DevicesHeld',
          Cause: JSON.stringify({ errorType: 'DevicesHeld', errorMessage: 'd2 is held by run-x' }),
        },
      }),
      ...tally.batch({ kind: 'pending', entry: { Input: batch(4, devices.slice(4, 5)) } }),
      // A result naming devices already reported adds no second line for them.
      ...tally.batch({ kind: 'pending', entry: { Input: batch(0, devices.slice(0, 1)) } }),
    ];
    const missing = devices.filter((device) => !tally.reported(device.index)).map((device) => tally.missing(device));
    return {
      ...tally.header({ manifest: 's3://b/m.csv', startedAt: new Date(1_000_000), finishedAt: new Date(1_010_000) }),
      devices: [...fromResults, ...missing].sort((left, right) => left.index - right.index),
    };
  };

  it('gives every device of the run exactly one line, in manifest order, whatever the result files hold', () => {
    const report = buildReport();
    expect(report.devices.map((device) => [device.thingName, device.status, device.requestId])).toEqual([
      ['d0', 'PROVISIONED', 'run-0'],
      ['d1', 'FAILED', 'run-0'],
      ['d2', 'FAILED', 'run-2'],
      ['d3', 'FAILED', 'run-2'],
      ['d4', 'NOT_STARTED', 'run-4'],
      ['d5', 'FAILED', ''],
    ]);
  });

  it("fails a failed batch's devices at submit with its error, and a device no result names with MissingOutcome", () => {
    const report = buildReport();
    expect(report.devices[2]!.error).toEqual({ step: 'submit', code: 'DevicesHeld', message: 'd2 is held by run-x' });
    expect(report.devices[5]!.error).toMatchObject({ step: 'status', code: 'MissingOutcome' });
    expect(report.failures).toEqual({ 'associate ResourceNotFoundException': 1, 'submit DevicesHeld': 2, 'status MissingOutcome': 1 });
  });

  it('counts devices and batches, and rates the devices settled over the elapsed time', () => {
    const report = buildReport();
    expect(report.outcome).toBe('PARTIAL');
    expect(report.totals).toEqual({
      batches: 4,
      batchesFailed: 1,
      batchesNotStarted: 2,
      devices: 6,
      succeeded: 1,
      failed: 4,
      rolledBack: 0,
      notStarted: 1,
      devicesPerSecond: 0.5,
    });
  });
});

describe('a fleet run', () => {
  it('orders two devices of one core device by their manifest position', () => {
    expect(compareDeviceOrder(['core-a', 4], ['core-a', 1])).toBeGreaterThan(0);
    expect(compareDeviceOrder(['core-a', 1], ['core-a', 4])).toBeLessThan(0);
    expect(compareDeviceOrder(['core-a', 4], ['core-b', 1])).toBeLessThan(0);
  });

  it('keys a device with no core device at all by an empty core device name', () => {
    const options = { thingPrincipalType: 'EXCLUSIVE_THING' as const, rollbackOnFailure: true };
    expect(deviceOrder(planned(3), options)).toEqual(['', 3]);
  });

  it('lists its devices by core device, then in manifest order, the default core device standing for those without one', () => {
    const orders = [planned(0, 'core-c'), planned(1), planned(2, 'core-a'), planned(3, 'core-c'), planned(4)].map((device) =>
      deviceOrder(device, OPTIONS),
    );
    expect(orders.sort(compareDeviceOrder).map(([, index]) => index)).toEqual([2, 1, 4, 0, 3]);
    expect(new Set(orders.map(([coreDevice]) => coreDevice)).size).toBe(3);
  });

  it('started by an upload is named by bucket, key and version (else ETag): the same object the same run, new bytes a new one', () => {
    const object = { bucket: 'b', key: 'manifests/m.csv', etag: 'e1' };
    expect(uploadedManifestRunId(object)).toBe(uploadedManifestRunId({ ...object }));
    expect(uploadedManifestRunId(object)).toMatch(/^s3-[0-9a-f]{40}$/);
    expect(uploadedManifestRunId({ ...object, etag: 'e2' })).not.toBe(uploadedManifestRunId(object));
    expect(uploadedManifestRunId({ ...object, versionId: 'v1', etag: 'e2' })).toBe(uploadedManifestRunId({ ...object, versionId: 'v1' }));
  });

  it("shows while it runs the devices counted so far of the Map Run's total, the batches done, their rate and the ETA of the pending ones at that rate", () => {
    const execution = {
      name: 'run',
      executionArn: 'arn:run',
      status: 'RUNNING',
      startDate: new Date(0),
      input: JSON.stringify({ action: 'provision', manifest: 's3://b/m.csv' }),
    };
    const mapRun = { itemCounts: { total: 1_000 }, executionCounts: { total: 5, succeeded: 1, failed: 1, running: 1 } };
    const counts = { succeeded: 350, failed: 30, rolledBack: 10, notStarted: 20 };
    expect(fleetRunProgress({ execution, mapRun, counts }, new Date(100_000), 's3://b/fleet-runs/run/problems.json')).toEqual({
      fleetRunId: 'run',
      executionArn: 'arn:run',
      executionStatus: 'RUNNING',
      action: 'provision',
      manifest: 's3://b/m.csv',
      startDate: new Date(0).toISOString(),
      devices: { total: 1_000, done: 400, succeeded: 350, failed: 30, rolledBack: 10, notStarted: 20, pending: 600 },
      batches: { total: 5, done: 2, failed: 1 },
      devicesPerSecond: 4,
      etaSeconds: 150,
    });
    // Before the first batch is counted: every device pending, no rate.
    expect(fleetRunProgress({ execution, mapRun }, new Date(100_000), '')).toMatchObject({
      devices: { total: 1_000, done: 0, pending: 1_000 },
    });
    expect(fleetRunProgress({ execution, mapRun }, new Date(100_000), '').devicesPerSecond).toBeUndefined();
  });

  it("once its report is written, answers the report's totals as its devices, whatever the counter missed", () => {
    const totals = {
      batches: 2,
      batchesFailed: 0,
      batchesNotStarted: 0,
      devices: 300,
      succeeded: 250,
      failed: 50,
      rolledBack: 50,
      notStarted: 0,
    };
    const execution = {
      name: 'run',
      status: 'SUCCEEDED',
      startDate: new Date(0),
      stopDate: new Date(10_000),
      output: JSON.stringify({
        fleetRunId: 'run',
        action: 'provision',
        outcome: 'PARTIAL',
        totals,
        report: { json: 's3://b/r.json', csv: 's3://b/r.csv' },
      }),
    };
    const mapRun = { itemCounts: { total: 300 }, executionCounts: { total: 2, succeeded: 2 } };
    const view = fleetRunProgress(
      { execution, mapRun, counts: { succeeded: 200, failed: 0, rolledBack: 0, notStarted: 0 } },
      new Date(20_000),
      '',
    );
    expect(view.devices).toEqual({ total: 300, done: 300, succeeded: 250, failed: 50, rolledBack: 50, notStarted: 0, pending: 0 });
    expect(view).toMatchObject({ outcome: 'PARTIAL', totals, devicesPerSecond: 30 });
    expect(view.etaSeconds).toBeUndefined();
  });

  it('names the problems file of a run that failed on its manifest', () => {
    const execution = {
      name: 'run',
      status: 'FAILED',
      startDate: new Date(0),
      stopDate: new Date(1_000),
      error: 'InvalidManifest',
      cause: JSON.stringify({ errorMessage: '3 problems' }),
    };
    expect(fleetRunProgress({ execution }, new Date(2_000), 's3://b/fleet-runs/run/problems.json').error).toEqual({
      code: 'InvalidManifest',
      message: '3 problems',
      problems: 's3://b/fleet-runs/run/problems.json',
    });
  });

  it('names no problems file for a run that failed otherwise', () => {
    const execution = { name: 'run', status: 'FAILED', startDate: new Date(0), error: 'States.Timeout', cause: 'took too long' };
    expect(fleetRunProgress({ execution }, new Date(2_000), 'problems.json').error).toEqual({
      code: 'States.Timeout',
      message: 'took too long',
    });
  });
});

describe("a fleet run's files and batches", () => {
  it("keeps each run's files under its own prefix", () => {
    expect(fleetRunKeys('run-1')).toEqual({
      devices: 'fleet-runs/run-1/devices.jsonl',
      problems: 'fleet-runs/run-1/problems.json',
      results: 'fleet-runs/run-1/results',
      reportJson: 'fleet-runs/run-1/report.json',
      reportCsv: 'fleet-runs/run-1/report.csv',
    });
  });

  it("names each batch's request after the run and the position of its first device", () => {
    expect(batchRequestId('run-1', 0)).toBe('run-1-0');
    expect(batchRequestId('run-1', 200)).toBe('run-1-200');
  });

  it("reports an invalid manifest's problems, counted, and that no device was touched", () => {
    const problem = { where: 'line 2', field: 'thingName', reason: 'is required' };
    expect(manifestProblemsReport('s3://b/m.csv', [problem])).toEqual({
      document: { manifest: 's3://b/m.csv', problems: [problem] },
      summary: 's3://b/m.csv: 1 problem; no device was touched',
    });
    expect(manifestProblemsReport('s3://b/m.csv', [problem, problem]).summary).toBe('s3://b/m.csv: 2 problems; no device was touched');
  });

  it('says how many problems there are when it lists only the first', () => {
    const problem = { where: 'line 2', field: 'thingName', reason: 'is required' };
    expect(manifestProblemsReport('s3://b/m.csv', [problem], 5_000)).toEqual({
      document: { manifest: 's3://b/m.csv', problemCount: 5_000, listed: 1, problems: [problem] },
      summary: 's3://b/m.csv: 5000 problems; no device was touched',
    });
  });

  it("names the owner of a run's cancel marker by the run and the start of its digest", () => {
    expect(fleetRunOwner('run-1', 'ab'.repeat(32))).toBe('fleet/run-1/abababababababab');
  });

  it('reads s3://<bucket>/<key>, and nothing around it', () => {
    expect(parseS3Uri('s3://b/dir/m.csv')).toEqual({ bucket: 'b', key: 'dir/m.csv' });
    expect(parseS3Uri('see s3://b/m.csv')).toBeUndefined();
    expect(parseS3Uri('s3://b/m.csv\nmore')).toBeUndefined();
    expect(parseS3Uri('s3://b/')).toBeUndefined();
  });

  it('runs a batch for every three devices the quotas let run at once, and at least one', () => {
    const quotas = { registerThingTps: 10, attachThingPrincipalTps: 100, describeThingTps: 350, deviceStepSeconds: 1 };
    // 10 RegisterThing a second with 20% headroom: 12 devices at once, 4 batches of 3.
    expect(fleetBatchConcurrency(quotas)).toBe(4);
    expect(fleetBatchConcurrency({ ...quotas, registerThingTps: 11 })).toBe(5);
    expect(fleetBatchConcurrency({ ...quotas, registerThingTps: 0.1 })).toBe(1);
  });
});

describe('a fleet run report, outcome by outcome', () => {
  const output = (summary: RequestSummary) => JSON.stringify({ executionArn: 'arn:x', status: 'SUCCEEDED', summary });
  const summaryOf = (status: RequestSummary['status'], devices: RequestSummary['devices']): RequestSummary => ({
    requestId: 'run-0',
    status,
    counts: { requested: devices.length, succeeded: 0, failed: 0, rolledBack: 0 },
    devices,
  });
  const header = (tally: FleetReportTally) => tally.header({ manifest: 'm', startedAt: new Date(0), finishedAt: new Date(0) });

  it('is SUCCEEDED when every device is done, and gives no rate for no time elapsed', () => {
    const tally = new FleetReportTally('run', 'provision');
    tally.batch({
      kind: 'succeeded',
      entry: {
        Input: batch(0, [planned(0)]),
        Output: output(summaryOf('SUCCEEDED', [{ thingName: 'd0', coreDeviceThingName: 'core-b', status: 'PROVISIONED' }])),
      },
    });
    expect(header(tally).outcome).toBe('SUCCEEDED');
    expect(header(tally).totals).not.toHaveProperty('devicesPerSecond');
  });

  it('is FAILED when none is, counting those rolled back', () => {
    const tally = new FleetReportTally('run', 'provision');
    const failed = {
      thingName: 'd0',
      coreDeviceThingName: 'core-b',
      status: 'FAILED' as const,
      error: { step: 'associate' as const, code: 'X', message: 'x' },
      rollback: { thingDeleted: true, detachedPrincipals: [], certificateDeleted: false },
    };
    tally.batch({ kind: 'succeeded', entry: { Input: batch(0, [planned(0)]), Output: output(summaryOf('FAILED', [failed])) } });
    expect(header(tally)).toMatchObject({ outcome: 'FAILED', totals: { devices: 1, succeeded: 0, failed: 1, rolledBack: 1 } });
  });

  it('is CANCELLED when a cancel stopped a batch before its request, or a request partway', () => {
    const beforeRequest = new FleetReportTally('run', 'provision');
    const entries = beforeRequest.batch({
      kind: 'succeeded',
      entry: { Input: batch(0, [planned(0)]), Output: JSON.stringify({ cancelled: true }) },
    });
    expect(entries.map((entry) => entry.status)).toEqual(['NOT_STARTED']);
    expect(header(beforeRequest)).toMatchObject({ outcome: 'CANCELLED', totals: { notStarted: 1, failed: 0 } });

    const partway = new FleetReportTally('run', 'provision');
    partway.batch({
      kind: 'succeeded',
      entry: {
        Input: batch(0, [planned(0), planned(1)]),
        Output: output(
          summaryOf('CANCELLED', [
            { thingName: 'd0', coreDeviceThingName: 'core-b', status: 'PROVISIONED' },
            { thingName: 'd1', coreDeviceThingName: 'core-b', status: 'NOT_STARTED' },
          ]),
        ),
      },
    });
    expect(header(partway).outcome).toBe('CANCELLED');
  });

  it('fails the devices of a batch whose request ended without a summary, with its status', () => {
    const tally = new FleetReportTally('run', 'provision');
    const [entry] = tally.batch({
      kind: 'succeeded',
      entry: { Input: batch(0, [planned(0)]), Output: JSON.stringify({ executionArn: 'arn:x', status: 'TIMED_OUT' }) },
    });
    expect(entry).toMatchObject({ status: 'FAILED', error: { step: 'status', code: 'TIMED_OUT' } });
    expect(header(tally).outcome).toBe('FAILED');
  });

  it('fails a device no result names at status, with its own core device', () => {
    const tally = new FleetReportTally('run', 'provision');
    expect(tally.missing(planned(7, 'core-x'))).toMatchObject({
      index: 7,
      thingName: 'd7',
      coreDeviceThingName: 'core-x',
      status: 'FAILED',
      requestId: '',
      error: { step: 'status', code: 'MissingOutcome', message: 'no batch result of the run mentions this device' },
    });
  });

  it('fails the devices of a batch that failed without an error name or cause with BatchFailed', () => {
    const tally = new FleetReportTally('run', 'deprovision');
    const [entry] = tally.batch({ kind: 'failed', entry: { Input: batch(0, [planned(0)]) } });
    expect(entry!.error).toEqual({ step: 'submit', code: 'BatchFailed', message: 'the batch failed without a cause' });
  });
});

describe('a fleet run, its module loaded afresh', () => {
  // Stryker credits a module's top-level code (the workflows by action, the error name) to the tests that load it.
  it('reports a batch a cancel stopped as NOT_STARTED, and names the problems file of a run failed with InvalidManifest', async () => {
    vi.resetModules();
    const { FleetReportTally: Tally } = await import('../../../../functions/domain/fleet-run.ts');
    const { fleetRunProgress: progress } = await import('../../../../functions/domain/fleet-run-status.ts');
    const tally = new Tally('run', 'deprovision');
    const entries = tally.batch({
      kind: 'succeeded',
      entry: { Input: batch(0, [planned(0, 'core-a')]), Output: JSON.stringify({ cancelled: true }) },
    });
    expect(entries).toEqual([
      { index: 0, line: 2, thingName: 'd0', status: 'NOT_STARTED', coreDeviceThingName: 'core-a', requestId: 'run-0' },
    ]);
    const execution = { name: 'run', status: 'FAILED', startDate: new Date(0), error: 'InvalidManifest', cause: 'bad' };
    expect(progress({ execution }, new Date(1_000), 's3://b/p.json').error).toEqual({
      code: 'InvalidManifest',
      message: 'bad',
      problems: 's3://b/p.json',
    });
  });
});
