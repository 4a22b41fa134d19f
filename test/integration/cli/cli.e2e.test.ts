import { execFile } from 'node:child_process';
import { mkdir, readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import type { PollSchedule } from '../../../cli/api-client.ts';
import { runCli } from '../../../cli/main.ts';
import type { FleetReport } from '../../../cli/report.ts';
import { saveRun } from '../../../cli/resume.ts';
import type { FinishedRequest } from '../../../functions/domain/fleet-outcomes.ts';
import { MAX_DEVICES_PER_REQUEST } from '../../../functions/domain/limits.ts';
import { capturedStream, certificateArn, fleetCsv, sensorName, workDirectory, writeManifest } from '../../support/fleet-fixtures.ts';
import { type FakeApi, startFakeApi } from './fake-provisioning-api.ts';

const FAST_POLLING = { initialMs: 1, maxMs: 5 };
const COMMAND = join(import.meta.dirname, '../../../bin/iot-provision.js');

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function provisionPolling(pollBackoff: PollSchedule, manifestPath: string, reportPrefix: string, ...extra: string[]) {
  const stdout = capturedStream();
  const stderr = capturedStream();
  const exitCode = await runCli([manifestPath, '--api-url', api!.url, '--report', reportPrefix, ...extra], {
    stdout,
    stderr,
    env: {},
    pollBackoff,
  });
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

const provision = (manifestPath: string, reportPrefix: string, ...extra: string[]) =>
  provisionPolling(FAST_POLLING, manifestPath, reportPrefix, ...extra);

async function readReport(reportPrefix: string): Promise<FleetReport> {
  return JSON.parse(await readFile(`${reportPrefix}.json`, 'utf8')) as FleetReport;
}

describe('iot-provision against an API that follows the contract', () => {
  it('provisions a fleet in two requests, writes the report, and skips everything when run again', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const fleetSize = MAX_DEVICES_PER_REQUEST + 10;
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(fleetSize));
    const reportPrefix = join(directory, 'out', 'report');

    const first = await provision(manifest, reportPrefix);

    expect(first.exitCode).toBe(0);
    expect(api.posted.map((request) => request.devices.length)).toEqual([MAX_DEVICES_PER_REQUEST, 10]);
    const firstOfSecond = MAX_DEVICES_PER_REQUEST;
    expect(api.posted[1]!.devices[0]).toEqual({
      thingName: sensorName(firstOfSecond),
      principal: certificateArn(firstOfSecond),
      coreDeviceThingName: 'core-a',
      parameters: { Site: `site-${firstOfSecond}` },
    });
    const report = await readReport(reportPrefix);
    expect(report.totals).toMatchObject({ requests: 2, devices: fleetSize, succeeded: fleetSize, failed: 0 });
    expect(report.devices.map((device) => device.line)).toEqual(Array.from({ length: fleetSize }, (_, index) => index + 2));
    const csvRows = parse(await readFile(`${reportPrefix}.csv`, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(csvRows).toHaveLength(fleetSize);
    expect(csvRows.at(-1)).toMatchObject({
      line: String(fleetSize + 1),
      thingName: sensorName(fleetSize - 1),
      status: 'PROVISIONED',
      coreDeviceThingName: 'core-b',
    });
    expect(first.stdout).toMatch(new RegExp(`Devices\\s+${fleetSize}: ${fleetSize} provisioned, 0 failed`));

    const again = await provision(manifest, reportPrefix);

    expect(again.exitCode).toBe(0);
    expect(api.posted).toHaveLength(2);
    const resumed = await readReport(reportPrefix);
    expect(resumed.totals).toMatchObject({ requests: 2, requestsSkipped: 2, succeeded: fleetSize, succeededEarlier: fleetSize });
  });

  it('exits 1 when a device fails, and a re-run sends only the failed devices under a new request id', async () => {
    api = await startFakeApi({
      failures: { [sensorName(3)]: { step: 'associate', code: 'ResourceNotFoundException', message: 'core-b is not a core device' } },
    });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(5));
    const reportPrefix = join(directory, 'report');

    const first = await provision(manifest, reportPrefix);

    expect(first.exitCode).toBe(1);
    const failed = (await readReport(reportPrefix)).devices.filter((device) => device.status === 'FAILED');
    expect(failed).toMatchObject([{ thingName: sensorName(3), line: 5, error: { step: 'associate', code: 'ResourceNotFoundException' } }]);
    expect(first.stdout).toMatch(/Failures\s+1\s+associate ResourceNotFoundException/);

    api.setFailures({});
    const retry = await provision(manifest, reportPrefix);

    expect(retry.exitCode).toBe(0);
    const [original, retried] = api.posted;
    expect(retried!.requestId).toBe(`${original!.requestId}-r1`);
    expect(retried!.devices.map((device) => device.thingName)).toEqual([sensorName(3)]);
    const report = await readReport(reportPrefix);
    expect(report.totals).toMatchObject({ devices: 5, succeeded: 5, succeededEarlier: 4 });
    expect(report.devices.find((device) => device.thingName === sensorName(3))?.requestId).toBe(retried!.requestId);
  });

  it('reports the devices of a request answered 409 as failed at submit, and still provisions the others', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(MAX_DEVICES_PER_REQUEST + 1));
    const reportPrefix = join(directory, 'report');
    const plan = await provision(manifest, reportPrefix, '--dry-run');
    const [firstRequestId] = plan.stdout.match(/m[0-9a-f]{12}-\d+/g) ?? [];
    api.seed({
      requestId: firstRequestId!,
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      coreDeviceThingName: 'core-z',
      devices: [{ thingName: 'someone-else' }],
    });

    const run = await provision(manifest, reportPrefix);

    expect(run.exitCode).toBe(1);
    const report = await readReport(reportPrefix);
    expect(report.totals).toMatchObject({
      devices: MAX_DEVICES_PER_REQUEST + 1,
      succeeded: 1,
      failed: MAX_DEVICES_PER_REQUEST,
      requestsUnfinished: 1,
    });
    expect(report.failures).toEqual({ 'submit Conflict': MAX_DEVICES_PER_REQUEST });
    expect(report.devices[0]).toMatchObject({ status: 'FAILED', requestId: firstRequestId, error: { step: 'submit', code: 'Conflict' } });
  });

  it('sends again, rather than reports as provisioned, the devices a later deprovisioning run removed', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const provisioning = join(directory, 'iot-provision-report');
    expect((await provision(manifest, provisioning)).exitCode).toBe(0);
    // The deprovisioning's state file is written after the provisioning's, whatever the clock's resolution.
    const earlier = new Date(Date.now() - 60_000);
    await utimes(`${provisioning}.state.json`, earlier, earlier);
    // A dry run writes the deprovisioning's state file, with nothing done yet.
    await provision(manifest, join(directory, 'iot-deprovision-report'), '--deprovision', '--dry-run');
    expect((await provision(manifest, provisioning, '--dry-run')).stdout).toContain('skip: provisioned by an earlier run');
    await utimes(`${provisioning}.state.json`, earlier, earlier);
    const deprovisioned: FinishedRequest = {
      requestId: 'd0-0',
      executionStatus: 'SUCCEEDED',
      devices: [{ thingName: sensorName(0), status: 'DEPROVISIONED', coreDeviceThingName: 'core-a' }],
    };
    await saveRun(join(directory, 'iot-deprovision-report.state.json'), { runId: 'r', state: new Map([['d0-0', deprovisioned]]) });

    const again = await provision(manifest, provisioning);

    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain(
      `1 of the devices ${provisioning}.state.json records as provisioned were deprovisioned by a later run: they are sent again`,
    );
    const [original, resent] = api.posted;
    expect(resent).toMatchObject({ requestId: `${original!.requestId}-r1`, devices: [{ thingName: sensorName(0) }] });
    const report = await readReport(provisioning);
    expect(report.totals).toMatchObject({ devices: 3, succeeded: 3, succeededEarlier: 2 });
    expect(report.devices[0]).toMatchObject({ thingName: sensorName(0), requestId: resent!.requestId });
    expect(report.devices[0]).not.toHaveProperty('resumed');
  });

  it('reports each device of a request refused for devices that running requests hold, naming the holder, and sends it again on a re-run', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const reportPrefix = join(directory, 'report');
    api.setHeld([{ thingName: sensorName(1), heldBy: { workflow: 'deprovision', requestId: 'd123-0' } }]);

    const refused = await provision(manifest, reportPrefix);

    expect(refused.exitCode).toBe(1);
    const report = await readReport(reportPrefix);
    expect(report.failures).toEqual({ 'submit DevicesHeld': 3 });
    expect(report.devices[1]!.error).toEqual({
      step: 'submit',
      code: 'DevicesHeld',
      message: 'held by the running deprovisioning request d123-0; run again once it has finished',
    });
    expect(report.devices[0]!.error?.message).toMatch(/^not sent, with the rest of its request: /);

    api.setHeld([]);
    expect((await provision(manifest, reportPrefix)).exitCode).toBe(0);
    expect(api.posted.map((request) => request.requestId)).toEqual([api.posted[0]!.requestId, api.posted[0]!.requestId]);
  });

  it('says in one line that the API cannot be reached and how to point at it, exits 3, and writes no report or rate', async () => {
    const closed = await startFakeApi();
    const url = closed.url;
    await closed.close();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(MAX_DEVICES_PER_REQUEST + 1));
    const reportPrefix = join(directory, 'report');
    const stdout = capturedStream();
    const stderr = capturedStream();

    const exitCode = await runCli([manifest, '--report', reportPrefix], {
      stdout,
      stderr,
      env: { IOT_PROVISION_API_URL: url },
      pollBackoff: FAST_POLLING,
    });

    expect(exitCode).toBe(3);
    expect(stderr.text().split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^iot-provision: the API at ${url}/ cannot be reached \\(.*ECONNREFUSED.*\\)\\. Start it \\(npm start\\) or point --api-url \\(or IOT_PROVISION_API_URL\\) at it`,
        ),
      ),
    ]);
    expect(stdout.text()).not.toContain('devices/s');
    await expect(readFile(`${reportPrefix}.json`, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('names the flag that set a request option it refuses', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));

    const refused = await provision(manifest, join(directory, 'report'), '--param', 'site=berlin', '--dry-run');

    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      'request options: templateParameters.site (--param site=…) is not a parameter of the template, which declares ThingName, Model, Site',
    );
  });

  it('plans a deprovisioning without core devices when it does not disassociate, under request ids of its own', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', ['thingName', sensorName(0), sensorName(1), sensorName(2)].join('\n'));

    const plan = await provision(manifest, join(directory, 'report'), '--deprovision', '--no-disassociate', '--no-delete', '--dry-run');

    expect(plan.exitCode).toBe(0);
    expect(plan.stdout).toMatch(/d[0-9a-f]{12}-0 +3 devices {2}send/);
    expect(plan.stdout).toContain('3 devices to deprovision in 1 request ');
    expect(plan.stdout).toContain('Request options: disassociate=false, detachPrincipals=true, deleteThings=false');
    expect(plan.stdout).not.toContain('Devices per core device');
    expect(api.posted).toEqual([]);
  });

  it('refuses to delete things it leaves associated, naming the flag, and sends nothing', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', ['thingName', sensorName(0)].join('\n'));

    const refused = await provision(manifest, join(directory, 'report'), '--deprovision', '--no-disassociate');

    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('request options: disassociate (--no-disassociate) must be true when deleteThings is true');
    expect(api.posted).toEqual([]);
  });

  it('keeps polling a request that the API does not show yet right after accepting it', async () => {
    api = await startFakeApi({ notVisiblePolls: 3 });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const reportPrefix = join(directory, 'report');

    const run = await provision(manifest, reportPrefix);

    expect(run.exitCode).toBe(0);
    expect((await readReport(reportPrefix)).devices.map((device) => device.status)).toEqual(Array(3).fill('PROVISIONED'));
  });

  it('fails the devices of a request the API still does not know once the grace has passed', async () => {
    api = await startFakeApi({ notVisiblePolls: Infinity });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const reportPrefix = join(directory, 'report');

    const run = await provisionPolling({ ...FAST_POLLING, notVisibleGraceMs: 20 }, manifest, reportPrefix);

    expect(run.exitCode).toBe(1);
    const report = await readReport(reportPrefix);
    expect(report.totals).toMatchObject({ requestsUnfinished: 1, failed: 3 });
    expect(report.failures).toEqual({ 'status NotFound': 3 });
  });

  it('writes the report when the state file cannot be written, and says so for each failed write', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(MAX_DEVICES_PER_REQUEST + 1));
    const reportPrefix = join(directory, 'report');
    // A dry run writes the state file of the run; then a directory at `<path>.tmp`, where every write goes first, makes the later writes fail.
    await provision(manifest, reportPrefix, '--dry-run');
    await mkdir(`${reportPrefix}.state.json.tmp`);

    const run = await provision(manifest, reportPrefix);

    expect(run.exitCode).toBe(0);
    expect((await readReport(reportPrefix)).totals).toMatchObject({ requests: 2, succeeded: MAX_DEVICES_PER_REQUEST + 1 });
    expect(run.stderr.match(/could not update .*report\.state\.json/g)).toHaveLength(2);
  });

  it('refuses to start a run whose state file cannot be written, which a resumption would need', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const reportPrefix = join(directory, 'report');
    await mkdir(`${reportPrefix}.state.json.tmp`);

    const run = await provision(manifest, reportPrefix);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`cannot write ${reportPrefix}.state.json, which a run needs in order to be resumed`);
    expect(api.posted).toEqual([]);
  });

  it('exits 2 and sends nothing when a row is invalid, naming every bad line', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const rows = fleetCsv(4).split('\n');
    rows[2] = 'bad name!,,core-a,';
    rows[4] = rows[1]!;
    const manifest = await writeManifest(directory, 'fleet.csv', rows.join('\n'));

    const run = await provision(manifest, join(directory, 'report'));

    expect(run.exitCode).toBe(2);
    expect(api.posted).toEqual([]);
    expect(run.stderr).toContain('line 3: thingName must be 1-128 characters');
    expect(run.stderr).toContain('line 3: principal is required');
    expect(run.stderr).toContain(`line 5: thingName duplicates line 2 ("${sensorName(0)}")`);
  });

  it('runs as the iot-provision command on a JSON manifest, with request fields from flags', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(
      directory,
      'fleet.json',
      JSON.stringify(
        {
          templateParameters: { Site: 'berlin' },
          devices: [
            { thingName: 'gateway-1', principal: certificateArn(1) },
            { thingName: 'gateway-2', principal: certificateArn(2), coreDeviceThingName: 'core-b' },
          ],
        },
        null,
        2,
      ),
    );

    const { stdout } = await promisify(execFile)(process.execPath, [
      COMMAND,
      manifest,
      '--api-url',
      api.url,
      '--report',
      join(directory, 'report'),
      '--core',
      'core-a',
      '--param',
      'Model=m1',
      '--no-rollback',
    ]);

    expect(stdout).toMatch(/Devices\s+2: 2 provisioned, 0 failed/);
    expect(api.posted[0]).toMatchObject({
      coreDeviceThingName: 'core-a',
      rollbackOnFailure: false,
      templateParameters: { Site: 'berlin', Model: 'm1' },
    });
  });

  it('tells a Node older than 24 how to run it instead of failing on TypeScript it cannot load', async () => {
    const posingAsNode20 = `data:text/javascript,Object.defineProperty(process.versions, 'node', { value: '20.19.0' })`;

    const failure = await promisify(execFile)(process.execPath, ['--import', posingAsNode20, COMMAND, 'fleet.csv']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain(
      'iot-provision needs Node 24 or later, and this is Node 20.19.0. Run it with npx from the project directory',
    );
  });
});
