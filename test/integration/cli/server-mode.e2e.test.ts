import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.ts';
import { type RunningApiServer, startApiServer } from '../../../local-cloud/apigateway/api-server.ts';
import { capturedStream, workDirectory, writeManifest } from '../../support/fleet-fixtures.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';

const CORES = ['core-a', 'core-b'];
const FLEET_SIZE = 12;

/**
 * `iot-provision --server` against the local API (`npm start`'s): the manifest goes up through `POST /fleet-uploads`
 * and its presigned PUT, the provision-fleet state machine does the work, and the report comes down through the
 * presigned URLs of `GET /fleet-runs/{id}`.
 */
describe('iot-provision --server on the local cloud', () => {
  let service: TestServiceCloud;
  let api: RunningApiServer;

  beforeAll(async () => {
    service = await startTestServiceCloud({ coreDevices: CORES, keyAlgorithm: 'ec-p256' });
    api = await startApiServer({ project: service.project, lambdas: service.lambdas, host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await api?.close();
    await service?.close();
  });

  async function iotProvision(...argv: string[]) {
    const stdout = capturedStream();
    const stderr = capturedStream();
    const exitCode = await runCli([...argv, '--server', '--api-url', api.url], {
      stdout,
      stderr,
      env: {},
      pollBackoff: { initialMs: 20, maxMs: 200 },
    });
    return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
  }

  async function reportRows(reportPrefix: string): Promise<Record<string, string>[]> {
    return parse(await readFile(`${reportPrefix}.csv`, 'utf8'), { columns: true }) as Record<string, string>[];
  }

  it('provisions a fleet server-side from the uploaded manifest and downloads its report; --deprovision --server removes the fleet again', async () => {
    const certificates: string[] = [];
    for (let index = 0; index < FLEET_SIZE; index += 1) certificates.push(await service.createCertificate());
    const rows = certificates.map(
      (certificate, index) => `fleet-${String(index).padStart(2, '0')},${certificate},${CORES[index % CORES.length]}`,
    );
    const directory = await workDirectory();
    const manifest = await writeManifest(directory, 'fleet.csv', ['thingName,principal,coreDeviceThingName', ...rows].join('\n'));
    const bucket = (service.project.config.provider as { environment: Record<string, string> }).environment.FLEET_BUCKET!;

    const provisioned = await iotProvision(manifest, '--report', join(directory, 'provision'));

    expect(provisioned.exitCode, provisioned.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(directory, 'provision.json'), 'utf8')) as { fleetRunId: string; manifest: string };
    expect(report.manifest).toMatch(new RegExp(`^s3://${bucket}/uploads/[^/]+/fleet\\.csv$`));
    const { executions } = await service.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: service.stateMachineArn('provisionFleet') }),
    );
    expect(executions?.map((execution) => execution.name)).toEqual([report.fleetRunId]);
    const provisionRows = await reportRows(join(directory, 'provision'));
    expect(provisionRows.map((row) => [row.line, row.thingName, row.status])).toEqual(
      rows.map((row, index) => [String(index + 2), row.split(',')[0], 'PROVISIONED']),
    );
    expect(provisionRows.map((row) => row.certificateArn)).toEqual(certificates);
    expect(service.clientThings()).toHaveLength(FLEET_SIZE);
    const { associations } = service.cloud.admin.state();
    for (const core of CORES) expect(associations[core], core).toHaveLength(FLEET_SIZE / CORES.length);
    expect(provisioned.stdout).toMatch(new RegExp(`Devices\\s+${FLEET_SIZE}: ${FLEET_SIZE} provisioned, 0 failed`));

    const removed = await iotProvision(manifest, '--deprovision', '--report', join(directory, 'deprovision'));

    expect(removed.exitCode, removed.stderr).toBe(0);
    expect((await reportRows(join(directory, 'deprovision'))).map((row) => row.status)).toEqual(Array(FLEET_SIZE).fill('DEPROVISIONED'));
    expect(service.clientThings()).toEqual([]);
    for (const core of CORES) expect(service.cloud.admin.state().associations[core] ?? [], core).toEqual([]);
  }, 180_000);
});
