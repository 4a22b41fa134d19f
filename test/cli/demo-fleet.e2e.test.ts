import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import type { FleetReport } from '../../cli/report.ts';
import { DEMO_CORE_DEVICE } from '../../local-cloud/config.ts';
import { startApiServer, type RunningApiServer } from '../../local/api-server.ts';
import { demoFleetCommand } from '../../local/demo-seed.ts';
import { parseManifest } from '../../cli/manifest.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../support/service-cloud.ts';
import { capturedStream, workDirectory } from './fleet-fixtures.ts';

const DEMO_FLEET_SCRIPT = join(import.meta.dirname, '../../local/demo-fleet.ts');

const FLEET_SIZE = 25;

describe('the demo fleet that npm start offers', () => {
  let service: TestServiceCloud;
  let api: RunningApiServer;

  beforeAll(async () => {
    service = await startTestServiceCloud({ coreDevices: [DEMO_CORE_DEVICE] });
    api = await startApiServer({ project: service.project, lambdas: service.lambdas, host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await api?.close();
    await service?.close();
  });

  it('gets its certificates at the default quota and is provisioned by iot-provision through the local API', async () => {
    // More certificates than the CreateKeysAndCertificate bucket holds (10): the later ones wait for tokens.
    service.cloud.admin.configureFaults({ quotas: true });
    const directory = await workDirectory();
    const manifest = join(directory, 'fleet.csv');
    await promisify(execFile)(process.execPath, [DEMO_FLEET_SCRIPT, '--devices', String(FLEET_SIZE), '--out', manifest, '--endpoint', service.url]);
    const created = service.cloud.admin.metrics().CreateKeysAndCertificate;
    expect(created?.succeeded).toBe(FLEET_SIZE);
    expect(created?.throttled).toBeGreaterThan(0);
    service.cloud.admin.configureFaults({ quotas: false });
    const parsed = parseManifest(await readFile(manifest, 'utf8'), 'csv');
    const certificateArns = parsed.ok ? parsed.manifest.rows.map((row) => (row.device as { principal: string }).principal) : [];
    expect(new Set(certificateArns).size).toBe(FLEET_SIZE);

    const reportPrefix = join(directory, 'report');
    const stdout = capturedStream();
    const exitCode = await runCli([manifest, '--api-url', api.url, '--report', reportPrefix], {
      stdout,
      stderr: capturedStream(),
      env: {},
      pollBackoff: { initialMs: 5, maxMs: 20 },
    });

    expect(exitCode, stdout.text()).toBe(0);
    const report = JSON.parse(await readFile(`${reportPrefix}.json`, 'utf8')) as FleetReport;
    expect(report.totals).toMatchObject({ devices: FLEET_SIZE, provisioned: FLEET_SIZE, failed: 0 });
    const { associations, thingPrincipals } = service.cloud.admin.state();
    expect(associations[DEMO_CORE_DEVICE]?.map((association) => association.thingName).sort()).toEqual(
      report.devices.map((device) => device.thingName).sort(),
    );
    const attached = report.devices.map((device) => thingPrincipals[device.thingName]?.map((attachment) => attachment.principal));
    expect(attached).toEqual(certificateArns.map((arn) => [arn.slice(arn.lastIndexOf('/') + 1)]));
  });

  it('is offered with flags only for the URLs that are not the defaults', () => {
    expect(demoFleetCommand('http://127.0.0.1:4566', 'http://127.0.0.1:3000')).toBe('npm run demo-fleet && npx iot-provision demo-fleet.csv');
    expect(demoFleetCommand('http://127.0.0.1:4977', 'http://127.0.0.1:3977')).toBe(
      'npm run demo-fleet -- --endpoint http://127.0.0.1:4977 && npx iot-provision demo-fleet.csv --api-url http://127.0.0.1:3977',
    );
  });
});
