import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../../cli/api-client.ts';
import { parseArguments } from '../../../cli/arguments.ts';
import type { FleetRunApi } from '../../../cli/fleet-run-api.ts';
import { runCli } from '../../../cli/main.ts';
import { type WatchDependencies, watchFleetRun } from '../../../cli/server-mode.ts';
import type { FleetRunStatus } from '../../../functions/domain/fleet-run-schemas.ts';
import { capturedStream, fleetCsv, sensorName, workDirectory, writeManifest } from '../../support/fleet-fixtures.ts';
import { type FakeApi, type FakeFleetRun, startFakeApi } from './fake-provisioning-api.ts';

const FAST_POLLING = { initialMs: 1, maxMs: 5 };
const COMMAND = join(import.meta.dirname, '../../../bin/iot-provision.js');

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function iotProvision(argv: string[], interrupt?: AbortSignal) {
  const stdout = capturedStream();
  const stderr = capturedStream();
  const exitCode = await runCli(argv, { stdout, stderr, env: {}, pollBackoff: FAST_POLLING, interrupt });
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

/** The one fleet run the fake holds, with its id. */
function onlyFleetRun(fake: FakeApi): [string, FakeFleetRun] {
  expect(fake.fleetRuns.size).toBe(1);
  return [...fake.fleetRuns][0]!;
}

/** A run started on the fake as another command (or an upload under manifests/) would have started it. */
async function startRunElsewhere(fake: FakeApi, fleetRunId: string, csv: string, action: 'provision' | 'deprovision'): Promise<void> {
  const post = (path: string, body: unknown) =>
    fetch(`${fake.url}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((response) => response.json());
  const upload = (await post('/fleet-uploads', { fileName: 'fleet.csv' })) as { uploadUrl: string; manifest: string };
  await fetch(upload.uploadUrl, { method: 'PUT', body: csv });
  await post('/fleet-runs', { fleetRunId, manifest: upload.manifest, action });
}

describe('iot-provision --server', () => {
  it("uploads the manifest as it is, starts one fleet run with the flags' options, and writes the service's report where the client-side mode writes its own", async () => {
    api = await startFakeApi({ fleetRuns: {} });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'line-7.csv', fleetCsv(250));
    const reportPrefix = join(directory, 'out', 'report');

    const run = await iotProvision([
      manifest,
      '--server',
      '--api-url',
      api.url,
      '--report',
      reportPrefix,
      '--param',
      'Model=m1',
      '--no-rollback',
    ]);

    expect(run.exitCode, run.stderr).toBe(0);
    const [location, uploaded] = [...api.uploads][0]!;
    expect(uploaded).toEqual({ bytes: await readFile(manifest), contentType: 'text/csv' });
    const [fleetRunId, fleetRun] = onlyFleetRun(api);
    expect(fleetRunId).toMatch(/^line-7-[0-9a-f]{8}$/);
    expect(fleetRun.body).toEqual({
      fleetRunId,
      manifest: location,
      action: 'provision',
      templateParameters: { Model: 'm1' },
      rollbackOnFailure: false,
    });
    expect(api.posted).toEqual([]);
    const rows = parse(await readFile(`${reportPrefix}.csv`, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(250);
    expect(Object.keys(rows[0]!)).toEqual([
      'line',
      'index',
      'thingName',
      'status',
      'coreDeviceThingName',
      'requestId',
      'resumed',
      'thingArn',
      'certificateArn',
      'errorStep',
      'errorCode',
      'errorMessage',
      'rolledBack',
      'rollbackIncomplete',
    ]);
    expect(rows[249]).toMatchObject({ line: '251', thingName: sensorName(249), status: 'PROVISIONED', requestId: `${fleetRunId}-200` });
    const report = JSON.parse(await readFile(`${reportPrefix}.json`, 'utf8')) as { fleetRunId: string; devices: unknown[] };
    expect(report).toMatchObject({ fleetRunId, workflow: 'provision' });
    expect(report.devices).toHaveLength(250);
    expect(run.stdout).toMatch(new RegExp(`Fleet run\\s+${fleetRunId}: SUCCEEDED`));
    expect(run.stdout).toMatch(/Devices\s+250: 250 provisioned, 0 failed/);
    expect(run.stderr).toContain(`fleet run ${fleetRunId} of 250 devices started`);
  });

  it('exits 1 when devices of the run failed, which its report names', async () => {
    api = await startFakeApi({
      fleetRuns: {},
      failures: { [sensorName(1)]: { step: 'associate', code: 'ResourceNotFoundException', message: 'core-b is not a core device' } },
    });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const reportPrefix = join(directory, 'report');

    const run = await iotProvision([manifest, '--server', '--api-url', api.url, '--report', reportPrefix]);

    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/Devices\s+3: 2 provisioned, 1 failed/);
    const rows = parse(await readFile(`${reportPrefix}.csv`, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.filter((row) => row.status === 'FAILED')).toMatchObject([
      { thingName: sensorName(1), errorStep: 'associate', errorCode: 'ResourceNotFoundException' },
    ]);
  });

  it("sends a deprovisioning run with its flags' options, into the deprovisioning report", async () => {
    api = await startFakeApi({ fleetRuns: {} });
    const directory = await workDirectory();
    const manifest = await writeManifest(
      directory,
      'fleet.json',
      JSON.stringify([{ thingName: sensorName(0), coreDeviceThingName: 'core-a' }]),
    );

    const run = await iotProvision([
      manifest,
      '--server',
      '--deprovision',
      '--no-delete',
      '--api-url',
      api.url,
      '--report',
      `${directory}/`,
    ]);

    expect(run.exitCode, run.stderr).toBe(0);
    expect(onlyFleetRun(api)[1].body).toMatchObject({ action: 'deprovision', deleteThings: false });
    expect([...api.uploads.values()][0]!.contentType).toBe('application/json');
    expect((await readdir(directory)).sort()).toEqual(['fleet.json', 'iot-deprovision-report.csv', 'iot-deprovision-report.json']);
  });

  it('refuses an invalid manifest with exit 2 before uploading anything', async () => {
    api = await startFakeApi({ fleetRuns: {} });
    const directory = await workDirectory();
    const rows = fleetCsv(3).split('\n');
    rows[2] = 'bad name!,,core-a,';
    const manifest = await writeManifest(directory, 'fleet.csv', rows.join('\n'));

    const run = await iotProvision([manifest, '--server', '--api-url', api.url, '--report', join(directory, 'report')]);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('line 3: thingName must be 1-128 characters');
    expect(api.uploads.size).toBe(0);
    expect(api.fleetRuns.size).toBe(0);
  });

  it('says to run without --server when the API has no fleet stack, exits 1, and starts nothing', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));

    const run = await iotProvision([manifest, '--server', '--api-url', api.url, '--report', join(directory, 'report')]);

    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('POST /fleet-uploads failed with Forbidden: Missing Authentication Token');
    expect(run.stderr).toContain('Nothing was started. Without the fleet stack, run the same command without --server');
    expect(api.posted).toEqual([]);
    expect(await readdir(directory)).toEqual(['fleet.csv']);
  });

  it("exits 3 when nothing answers at the API's URL, having started nothing", async () => {
    const closed = await startFakeApi({ fleetRuns: {} });
    await closed.close();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));

    const run = await iotProvision([manifest, '--server', '--api-url', closed.url, '--report', join(directory, 'report')]);

    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(new RegExp(`the API at ${closed.url}/ cannot be reached \\(.*ECONNREFUSED.*\\)\\. Nothing was started\\.`));
  });

  it('exits 2 with the problems file when the service finds the manifest invalid, and writes no report', async () => {
    const problems = 's3://fake-fleet-bucket/fleet-runs/x/problems.json';
    api = await startFakeApi({
      fleetRuns: { error: { code: 'InvalidManifest', message: 'manifest: 1 problem; no device was touched', problems } },
    });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));

    const run = await iotProvision([manifest, '--server', '--api-url', api.url, '--report', join(directory, 'report')]);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(
      /fleet run fleet-[0-9a-f]{8} ended FAILED: InvalidManifest: manifest: 1 problem; no device was touched \(its problems, each with its line: s3:\/\/fake-fleet-bucket\/fleet-runs\/x\/problems.json\)\. No report was written\./,
    );
    expect(await readdir(directory)).toEqual(['fleet.csv']);
  });

  it('exits 1 and says where the report is in S3 when its download URLs are refused', async () => {
    api = await startFakeApi({ fleetRuns: { expiredReportUrls: true } });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));
    const reportPrefix = join(directory, 'report');

    const run = await iotProvision([manifest, '--server', '--api-url', api.url, '--report', reportPrefix]);

    expect(run.exitCode).toBe(1);
    const [fleetRunId] = onlyFleetRun(api);
    expect(run.stderr).toContain(
      `could not download the report (${reportPrefix}.json, ${reportPrefix}.csv): HTTP 403: AccessDenied: Request has expired`,
    );
    expect(run.stdout).toContain(
      `Report     s3://fake-fleet-bucket/fleet-runs/${fleetRunId}/report.json, s3://fake-fleet-bucket/fleet-runs/${fleetRunId}/report.csv`,
    );
  });
});

describe('iot-provision --follow', () => {
  it('attaches to a run already going, starts nothing, and writes its report under the default name of its action', async () => {
    api = await startFakeApi({ fleetRuns: { runningPolls: 3 } });
    await startRunElsewhere(api, 'line-7-removal', fleetCsv(4), 'deprovision');
    const directory = await workDirectory();

    const run = await iotProvision(['--follow', 'line-7-removal', '--api-url', api.url, '--report', `${directory}/`]);

    expect(run.exitCode, run.stderr).toBe(0);
    expect(api.fleetRuns.size).toBe(1);
    expect(api.uploads.size).toBe(1);
    expect(api.fleetRuns.get('line-7-removal')!.statusCalls).toBe(4);
    expect(run.stdout).toMatch(/Devices\s+4: 4 deprovisioned, 0 failed/);
    expect((await readdir(directory)).sort()).toEqual(['iot-deprovision-report.csv', 'iot-deprovision-report.json']);
  });

  it('exits 2 naming a fleet run the API does not have', async () => {
    api = await startFakeApi({ fleetRuns: {} });

    const run = await iotProvision(['--follow', 'no-such-run', '--api-url', api.url]);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`the API at ${api.url}/ has no fleet run no-such-run (no fleet run with fleetRunId no-such-run)`);
  });
});

describe('Ctrl-C in --server', () => {
  it('leaves the run going, prints the exact --follow command, and that command then downloads the report', async () => {
    const fleetRuns = { runningPolls: Infinity };
    api = await startFakeApi({ fleetRuns });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(5));
    const reportPrefix = join(directory, 'report');
    const interrupt = new AbortController();

    const running = iotProvision([manifest, '--server', '--api-url', api.url, '--report', reportPrefix], interrupt.signal);
    while ((api.fleetRuns.values().next().value?.statusCalls ?? 0) < 3) await sleep(5);
    interrupt.abort();
    const interrupted = await running;

    expect(interrupted.exitCode).toBe(130);
    const [fleetRunId] = onlyFleetRun(api);
    const follow = `npx iot-provision --follow ${fleetRunId} --api-url ${api.url}/ --report ${reportPrefix}`;
    expect(interrupted.stderr).toContain(
      `interrupted. The fleet run ${fleetRunId} goes on in the service: Ctrl-C stops only this command. Follow it, and download its report once it ends, with:\n  ${follow}\n`,
    );
    await expect(readFile(`${reportPrefix}.csv`, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    // Nothing asked the service to stop the run: the upload and the start are all this command posted.
    expect(api.calls.filter((call) => !call.startsWith('GET '))).toEqual([
      'POST /fleet-uploads',
      expect.stringMatching(/^PUT \/_s3\/uploads\//),
      'POST /fleet-runs',
    ]);

    fleetRuns.runningPolls = 0;
    const followed = await iotProvision(follow.split(' ').slice(2));

    expect(followed.exitCode, followed.stderr).toBe(0);
    expect(api.fleetRuns.size).toBe(1);
    expect(parse(await readFile(`${reportPrefix}.csv`, 'utf8'), { columns: true })).toHaveLength(5);
  });

  it('stops the iot-provision command with exit 130 on SIGINT, saying how to follow the run', async () => {
    api = await startFakeApi({ fleetRuns: { runningPolls: Infinity } });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));
    const child = spawn(process.execPath, [COMMAND, manifest, '--server', '--api-url', api.url], {
      env: { PATH: process.env.PATH },
      cwd: directory,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    while ((api.fleetRuns.values().next().value?.statusCalls ?? 0) < 1) await sleep(10);

    child.kill('SIGINT');
    const [exitCode] = (await exited) as [number];

    expect(exitCode).toBe(130);
    const [fleetRunId] = onlyFleetRun(api);
    expect(stderr).toContain(`with:\n  npx iot-provision --follow ${fleetRunId} --api-url ${api.url}/\n`);
  });
});

describe('the progress of a fleet run', () => {
  /** Answers the statuses in turn, then the last one again. */
  function scriptedStatuses(...statuses: Partial<FleetRunStatus>[]): FleetRunApi {
    let call = 0;
    const base = { fleetRunId: 'r', executionArn: 'arn', startDate: '2026-01-01T00:00:00.000Z', action: 'provision' };
    return {
      status: async (): Promise<ApiResult<FleetRunStatus>> => ({
        ok: true,
        value: { ...base, executionStatus: 'RUNNING', ...statuses[Math.min(call++, statuses.length - 1)] },
      }),
    } as unknown as FleetRunApi;
  }

  function watching(fleetApi: FleetRunApi, knownDevices?: number) {
    const events: unknown[] = [];
    const dependencies: WatchDependencies = {
      api: fleetApi,
      stdout: capturedStream(),
      stderr: capturedStream(),
      pollBackoff: { initialMs: 0, maxMs: 0 },
      apiUrl: new URL('http://127.0.0.1:3000'),
      follow: 'npx iot-provision --follow r',
      knownDevices,
      reportPrefix: async () => {
        throw new Error('no report expected');
      },
      startProgress: (total, alreadyDone) => {
        events.push({ start: { total, alreadyDone } });
        return { update: (counts) => events.push(counts), stop: (finalLine = true) => events.push({ stop: finalLine }) };
      },
    };
    return { dependencies, events };
  }

  const ended = { executionStatus: 'FAILED' as const, error: { code: 'States.Timeout', message: 'timed out' } };
  /** A run's devices as GET answers them: `done` of `total` counted, `failed` of them failed, the rest succeeded. */
  const counted = (total: number, done: number, failed = 0) => ({
    total,
    done,
    succeeded: done - failed,
    failed,
    rolledBack: 0,
    notStarted: 0,
    pending: total - done,
  });

  it("starts once the run counts devices and moves with its counts (failures as they are counted), the manifest's size as the whole", async () => {
    const { dependencies, events } = watching(
      scriptedStatuses({}, { devices: counted(200, 0) }, { devices: counted(400, 200, 3) }, { ...ended, devices: counted(400, 400, 3) }),
      400,
    );

    expect(await watchFleetRun('r', dependencies)).toBe(1);

    expect(events).toEqual([
      { start: { total: 400, alreadyDone: 0 } },
      { total: 200, done: 0, failed: 0 },
      { total: 400, done: 200, failed: 3 },
      { total: 400, done: 400, failed: 3 },
      { stop: false },
    ]);
  });

  it('counts the devices done before it attached as already done, so that they make no rate', async () => {
    const { dependencies, events } = watching(scriptedStatuses({ devices: counted(1000, 600) }, { devices: counted(1000, 800) }, ended));

    await watchFleetRun('r', dependencies);

    expect(events.slice(0, 3)).toEqual([
      { start: { total: 1000, alreadyDone: 600 } },
      { total: 1000, done: 600, failed: 0 },
      { total: 1000, done: 800, failed: 0 },
    ]);
  });
});

describe('options that make no sense with a fleet run the service carries out', () => {
  const usageError = (...argv: string[]) => {
    const parsed = parseArguments(argv);
    return parsed.kind === 'usage-error' ? parsed.message : `not refused: ${parsed.kind}`;
  };

  it('refuses --concurrency and --dry-run with --server, naming them', () => {
    expect(usageError('fleet.csv', '--server', '--concurrency', '8')).toMatch(/^--concurrency: not with --server/);
    expect(usageError('fleet.csv', '--server', '--dry-run')).toMatch(/^--dry-run: not with --server/);
  });

  it('refuses a manifest, request options, --deprovision and a bad id with --follow, naming them', () => {
    expect(usageError('--follow', 'r-1', 'fleet.csv')).toBe('--follow watches a fleet run already started: give no manifest');
    expect(usageError('--follow', 'r-1', '--core', 'core-a', '--deprovision', '--no-delete')).toMatch(
      /^--core, --deprovision, --no-delete: not with --follow/,
    );
    expect(usageError('--follow', 'r 1')).toBe('--follow takes a fleetRunId (1-72 of A-Z, a-z, 0-9, _ and -), got "r 1"');
  });

  it('accepts the options a followed run still needs', () => {
    expect(
      parseArguments([
        '--follow',
        'r-1',
        '--server',
        '--api-url',
        'https://abc.execute-api.eu-west-1.amazonaws.com/prod',
        '--region',
        'eu-west-1',
        '--report',
        'out/',
      ]),
    ).toEqual({
      kind: 'follow',
      options: {
        fleetRunId: 'r-1',
        apiUrl: new URL('https://abc.execute-api.eu-west-1.amazonaws.com/prod'),
        region: 'eu-west-1',
        reportPrefix: 'out/',
      },
    });
  });

  it('exits 2 and sends nothing when run with a refused option', async () => {
    api = await startFakeApi({ fleetRuns: {} });

    const run = await iotProvision(['fleet.csv', '--server', '--concurrency', '2', '--api-url', api.url]);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('iot-provision: --concurrency: not with --server');
    expect(api.uploads.size).toBe(0);
  });
});
