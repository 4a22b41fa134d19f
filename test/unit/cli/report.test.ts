import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { FleetRunResult } from '../../../cli/fleet-run.ts';
import { buildReport, formatFleetRunSummary, formatSummary, reportPaths, writeReport } from '../../../cli/report.ts';
import type { FleetDeviceOutcome } from '../../../functions/domain/fleet-outcomes.ts';
import { PROVISIONING } from '../../../functions/domain/fleet-workflow.ts';
import { workDirectory } from '../../support/fleet-fixtures.ts';

function result(outcomes: { outcome: FleetDeviceOutcome; resumed?: true }[]): FleetRunResult {
  return {
    requests: [
      { chunk: 0, requestId: 'm0-0', attempt: 0, devices: 2, result: 'skipped' },
      { chunk: 1, requestId: 'm0-1', attempt: 0, devices: 2, result: 'not-submitted', failure: { code: 'Conflict', message: 'used' } },
    ],
    devices: outcomes.map(({ outcome, resumed }, index) => ({
      planned: { index, line: index + 2, where: `line ${index + 2}`, device: { thingName: outcome.thingName } },
      requestId: `m0-${index < 2 ? 0 : 1}`,
      outcome,
      ...(resumed && { resumed }),
    })),
  };
}

const context = {
  workflow: PROVISIONING,
  manifest: 'fleet.csv',
  apiUrl: 'http://127.0.0.1:3000/',
  startedAt: new Date('2026-01-01T00:00:00Z'),
  finishedAt: new Date('2026-01-01T00:01:05Z'),
};
const run = result([
  { outcome: { thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a', thingArn: 'arn:thing/a' }, resumed: true },
  { outcome: { thingName: 'b', status: 'PROVISIONED', coreDeviceThingName: 'core-a' }, resumed: true },
  {
    outcome: {
      thingName: 'c',
      status: 'FAILED',
      coreDeviceThingName: 'core-b',
      error: { step: 'submit', code: 'Conflict', message: 'used, "twice",\nreally' },
    },
  },
  {
    outcome: {
      thingName: 'd',
      status: 'FAILED',
      coreDeviceThingName: 'core-b',
      error: { step: 'submit', code: 'Conflict', message: 'used' },
    },
  },
]);
const associationFailed = { step: 'associate', code: 'ResourceNotFoundException', message: 'no core' } as const;
const rolledBack = result([
  {
    outcome: {
      thingName: 'a',
      status: 'FAILED',
      error: associationFailed,
      rollback: { detachedPrincipals: ['arn:cert/1'], thingDeleted: true, certificateDeleted: true },
    },
  },
  {
    outcome: {
      thingName: 'b',
      status: 'FAILED',
      error: associationFailed,
      rollback: { detachedPrincipals: [], thingDeleted: false, certificateDeleted: false },
    },
  },
  {
    outcome: {
      thingName: 'c',
      status: 'FAILED',
      error: associationFailed,
      rollback: {
        detachedPrincipals: ['arn:cert/3'],
        thingDeleted: false,
        certificateDeleted: false,
        incomplete: { step: 'rollback', code: 'UnauthorizedException', message: 'denied' },
      },
    },
  },
  {
    outcome: {
      thingName: 'd',
      status: 'FAILED',
      error: associationFailed,
      rollback: {
        detachedPrincipals: [],
        thingDeleted: false,
        certificateDeleted: false,
        incomplete: { step: 'rollback', code: 'ThrottlingException', message: 'gave up' },
      },
    },
  },
]);

describe('the report', () => {
  it('counts devices, requests and failures by step and code; the rate counts only this run', () => {
    const report = buildReport(context, run);

    expect(report.elapsedSeconds).toBe(65);
    expect(report.totals).toEqual({
      requests: 2,
      requestsSkipped: 1,
      requestsUnfinished: 1,
      devices: 4,
      succeeded: 2,
      succeededEarlier: 2,
      failed: 2,
      devicesPerSecond: 2 / 65,
    });
    expect(report.failures).toEqual({ 'submit Conflict': 2 });
  });

  it('counts devices a cancel left NOT_STARTED apart: neither succeeded nor failed, and no failure to report', () => {
    const cancelled = result([
      { outcome: { thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a' } },
      { outcome: { thingName: 'b', status: 'NOT_STARTED', coreDeviceThingName: 'core-a' } },
      { outcome: { thingName: 'c', status: 'FAILED', coreDeviceThingName: 'core-b', error: associationFailed } },
    ]);
    const report = buildReport(context, cancelled);

    expect(report.totals).toMatchObject({ devices: 3, succeeded: 1, failed: 1, notStarted: 1 });
    expect(report.failures).toEqual({ 'associate ResourceNotFoundException': 1 });
    expect(report.devices.map((device) => device.status)).toEqual(['PROVISIONED', 'NOT_STARTED', 'FAILED']);
  });

  it('writes JSON and a CSV with one row per device that reads back, quoting included', async () => {
    const paths = reportPaths(join(await workDirectory(), 'out', 'fleet'));

    await writeReport(paths, buildReport(context, run));

    const json = JSON.parse(await readFile(paths.json, 'utf8'));
    expect(json.devices).toHaveLength(4);
    expect(json.devices[0]).toEqual({
      index: 0,
      line: 2,
      thingName: 'a',
      status: 'PROVISIONED',
      coreDeviceThingName: 'core-a',
      requestId: 'm0-0',
      resumed: true,
      thingArn: 'arn:thing/a',
    });
    const rows = parse(await readFile(paths.csv, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.map((row) => row.thingName)).toEqual(['a', 'b', 'c', 'd']);
    expect(rows[2]).toEqual({
      line: '4',
      index: '2',
      thingName: 'c',
      status: 'FAILED',
      coreDeviceThingName: 'core-b',
      requestId: 'm0-1',
      resumed: 'false',
      thingArn: '',
      certificateArn: '',
      errorStep: 'submit',
      errorCode: 'Conflict',
      errorMessage: 'used, "twice",\nreally',
      rolledBack: '',
      rollbackIncomplete: '',
    });
  });

  it('says in the CSV what each rollback undid and which one needs cleaning by hand', async () => {
    const paths = reportPaths(join(await workDirectory(), 'out', 'fleet'));

    await writeReport(paths, buildReport(context, rolledBack));

    const rows = parse(await readFile(paths.csv, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.map(({ rolledBack, rollbackIncomplete }) => ({ rolledBack, rollbackIncomplete }))).toEqual([
      { rolledBack: 'thing deleted; detached arn:cert/1; certificate deleted', rollbackIncomplete: '' },
      { rolledBack: 'nothing to undo', rollbackIncomplete: '' },
      { rolledBack: 'detached arn:cert/3', rollbackIncomplete: 'UnauthorizedException: denied' },
      { rolledBack: '', rollbackIncomplete: 'ThrottlingException: gave up' },
    ]);
  });

  it('prints a summary table', () => {
    const summary = formatSummary(buildReport(context, run), { json: 'r.json', csv: 'r.csv' }, PROVISIONING);

    expect(summary.split('\n')).toEqual([
      'Requests  2, 1 skipped (provisioned by an earlier run), 1 without a final answer',
      'Devices   4: 2 provisioned (2 by an earlier run), 2 failed',
      'Failures       2  submit Conflict',
      'Elapsed   1m 05s',
      'Rate      0.0 devices/s',
      'Report    r.json, r.csv',
    ]);
  });

  it("prints a fleet run's summary with its rolled back devices among the failed", () => {
    const status = {
      fleetRunId: 'line-7',
      executionArn: 'arn:line-7',
      executionStatus: 'SUCCEEDED' as const,
      startDate: '2026-01-01T00:00:00.000Z',
      stopDate: '2026-01-01T00:01:05.000Z',
      outcome: 'PARTIAL' as const,
      totals: {
        batches: 3,
        batchesFailed: 1,
        batchesNotStarted: 0,
        devices: 450,
        succeeded: 300,
        failed: 150,
        rolledBack: 120,
        notStarted: 0,
        devicesPerSecond: 6.9,
      },
    };
    expect(formatFleetRunSummary(status, { json: 'r.json', csv: 'r.csv' }, PROVISIONING).split('\n')).toEqual([
      'Fleet run  line-7: PARTIAL',
      'Batches    3, 1 failed',
      'Devices    450: 300 provisioned, 150 failed (120 rolled back)',
      'Elapsed    1m 05s',
      'Rate       6.9 devices/s',
      'Report     r.json, r.csv',
    ]);
  });
});
