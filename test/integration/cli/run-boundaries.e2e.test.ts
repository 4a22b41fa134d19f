import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.ts';
import type { FleetReport } from '../../../cli/report.ts';
import { capturedStream, fleetCsv, workDirectory, writeManifest } from '../../support/fleet-fixtures.ts';
import { type FakeApi, startFakeApi } from './fake-provisioning-api.ts';

const COMMAND = join(import.meta.dirname, '../../../bin/iot-provision.js');
const FAST_POLLING = { initialMs: 1, maxMs: 5 };

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function provision(...argv: string[]) {
  const stdout = capturedStream();
  const stderr = capturedStream();
  const exitCode = await runCli(argv, { stdout, stderr, env: {}, pollBackoff: FAST_POLLING });
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

/** The iot-provision command in its own process, as a terminal runs it. */
function command(argv: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) {
  const child = spawn(process.execPath, [COMMAND, ...argv], { env });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => ({ exitCode: code as number, stderr }));
  return { child, exited };
}

describe('where a run writes', () => {
  it('refuses a --report prefix whose files would overwrite the manifest, before sending anything', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));

    const run = await provision(manifest, '--api-url', api.url, '--report', join(directory, 'fleet'));

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`--report ${join(directory, 'fleet')} would overwrite ${manifest}, an input of this run`);
    expect(await readFile(manifest, 'utf8')).toBe(fleetCsv(2));
    expect(api.posted).toEqual([]);
  });

  it('writes the report under its default names inside a --report directory', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));
    await mkdir(join(directory, 'reports'));

    const run = await provision(manifest, '--api-url', api.url, '--report', join(directory, 'reports'));

    expect(run.exitCode).toBe(0);
    expect((await readdir(join(directory, 'reports'))).sort()).toEqual([
      'iot-provision-report.csv',
      'iot-provision-report.json',
      'iot-provision-report.state.json',
    ]);
  });

  it('exits 1 and says so when the report cannot be written, even though every device was provisioned', async () => {
    api = await startFakeApi();
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));
    const reportPrefix = join(directory, 'report');
    await mkdir(`${reportPrefix}.json`);

    const run = await provision(manifest, '--api-url', api.url, '--report', reportPrefix);

    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`could not write the report (${reportPrefix}.json, ${reportPrefix}.csv)`);
    expect(run.stdout).toMatch(/Devices\s+2: 2 provisioned, 0 failed/);
  });
});

describe('a deployed API', () => {
  it('exits 2 before writing or sending anything when there are no AWS credentials to sign with', async () => {
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(2));
    const noCredentials = {
      PATH: process.env.PATH,
      HOME: directory,
      AWS_SHARED_CREDENTIALS_FILE: join(directory, 'missing-credentials'),
      AWS_CONFIG_FILE: join(directory, 'missing-config'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const apiUrl = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';

    const { exitCode, stderr } = await command([manifest, '--api-url', apiUrl, '--report', join(directory, 'report')], noCredentials)
      .exited;

    expect(exitCode).toBe(2);
    expect(stderr).toContain('iot-provision: no AWS credentials to sign requests to abc123.execute-api.eu-west-1.amazonaws.com with');
    expect(await readdir(directory)).toEqual(['fleet.csv']);
  });
});

describe('Ctrl-C', () => {
  it('stops waiting at once with exit 130, and the same command then resumes the execution already started', async () => {
    api = await startFakeApi({ runningPolls: 30 });
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', fleetCsv(3));
    const reportPrefix = join(directory, 'report');
    const interrupted = command([manifest, '--api-url', api.url, '--report', reportPrefix]);
    while (api.posted.length === 0) await sleep(10);

    interrupted.child.kill('SIGINT');
    const { exitCode, stderr } = await interrupted.exited;

    expect(exitCode).toBe(130);
    expect(stderr).toContain(
      `iot-provision: interrupted. Requests already sent go on running in the service. Run the same command again to resume`,
    );
    const resumed = await provision(manifest, '--api-url', api.url, '--report', reportPrefix);
    expect(resumed.exitCode).toBe(0);
    expect(api.posted.map(({ requestId }) => requestId)).toEqual([api.posted[0]!.requestId, api.posted[0]!.requestId]);
    const report = JSON.parse(await readFile(`${reportPrefix}.json`, 'utf8')) as FleetReport;
    expect(report.totals).toMatchObject({ devices: 3, succeeded: 3, failed: 0 });
  });
});
