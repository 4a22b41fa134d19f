import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../cli/main.ts';
import type { FleetReport } from '../../../cli/report.ts';
import { parseManifest } from '../../../functions/domain/fleet-manifest.ts';
import { demoFleetCommand } from '../../../local/demo-seed.ts';
import { type RunningApiServer, startApiServer } from '../../../local-cloud/apigateway/api-server.ts';
import { DEMO_CORE_DEVICE } from '../../../local-cloud/config.ts';
import { capturedStream, workDirectory } from '../../support/fleet-fixtures.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';

const DEMO_FLEET_SCRIPT = join(import.meta.dirname, '../../../local/demo-fleet.ts');

const FLEET_SIZE = 25;
/** A token a quarter of an hour: a bucket at this rate stays empty until the test restores the quota. */
const NO_REFILL_RATE = 1 / 900;

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

  /** Runs the demo fleet script against this local cloud, writing the manifest to `path`. */
  async function createDemoFleet(path: string, devices: number): Promise<string[]> {
    await promisify(execFile)(process.execPath, [
      DEMO_FLEET_SCRIPT,
      '--devices',
      String(devices),
      '--out',
      path,
      '--endpoint',
      service.url,
    ]);
    const parsed = parseManifest(await readFile(path, 'utf8'), 'csv');
    return parsed.ok ? parsed.manifest.rows.map((row) => (row.device as { principal: string }).principal) : [];
  }

  async function iotProvision(manifest: string, reportPrefix: string, ...flags: string[]) {
    const stdout = capturedStream();
    const exitCode = await runCli([manifest, '--api-url', api.url, '--report', reportPrefix, ...flags], {
      stdout,
      stderr: capturedStream(),
      env: {},
      pollBackoff: { initialMs: 5, maxMs: 20 },
    });
    const report = JSON.parse(await readFile(`${reportPrefix}.json`, 'utf8')) as FleetReport;
    return { exitCode, stdout: stdout.text(), report };
  }

  it('gets its certificates past an empty CreateCertificateFromCsr bucket, then at the default quota, and is provisioned by iot-provision through the local API', async () => {
    // More certificates than the default bucket holds (10), and no token back until the harness has seen a call
    // throttled: however slow the machine, the script meets the empty bucket and must wait for tokens.
    const defaultQuota = service.cloud.admin.faults().rateLimits.CreateCertificateFromCsr!;
    service.cloud.admin.configureFaults({
      quotas: true,
      rateLimits: { CreateCertificateFromCsr: { rate: NO_REFILL_RATE, burst: defaultQuota.burst } },
    });
    const throttled = () => service.cloud.admin.metrics().CreateCertificateFromCsr?.throttled ?? 0;
    const directory = await workDirectory();
    const fleet = createDemoFleet(join(directory, 'fleet.csv'), FLEET_SIZE);
    await Promise.race([fleet, vi.waitFor(() => expect(throttled()).toBeGreaterThan(0), { timeout: 20_000, interval: 10 })]);
    service.cloud.admin.configureFaults({ rateLimits: { CreateCertificateFromCsr: defaultQuota } });
    const certificateArns = await fleet;
    const created = service.cloud.admin.metrics().CreateCertificateFromCsr;
    service.cloud.admin.configureFaults({ quotas: false });
    expect(created?.succeeded).toBe(FLEET_SIZE);
    expect(created?.throttled).toBeGreaterThan(0);
    expect(new Set(certificateArns).size).toBe(FLEET_SIZE);

    const { exitCode, stdout, report } = await iotProvision(join(directory, 'fleet.csv'), join(directory, 'report'));

    expect(exitCode, stdout).toBe(0);
    expect(report.totals).toMatchObject({ devices: FLEET_SIZE, succeeded: FLEET_SIZE, failed: 0 });
    const { associations, thingPrincipals } = service.cloud.admin.state();
    expect(associations[DEMO_CORE_DEVICE]?.map((association) => association.thingName).sort()).toEqual(
      report.devices.map((device) => device.thingName).sort(),
    );
    const attached = report.devices.map((device) => thingPrincipals[device.thingName]?.map((attachment) => attachment.principal));
    expect(attached).toEqual(certificateArns.map((arn) => [arn.slice(arn.lastIndexOf('/') + 1)]));
  });

  it('is removed by iot-provision --deprovision from the same manifest, and a second run has nothing left to do', async () => {
    await service.cloud.admin.reset();
    const directory = await workDirectory();
    const manifest = join(directory, 'fleet.csv');
    await createDemoFleet(manifest, 12);
    expect((await iotProvision(manifest, join(directory, 'provision'))).exitCode).toBe(0);

    const removal = await iotProvision(manifest, join(directory, 'deprovision'), '--deprovision');

    expect(removal.exitCode, removal.stdout).toBe(0);
    expect(removal.stdout).toMatch(/Devices\s+12: 12 deprovisioned, 0 failed/);
    expect(removal.report).toMatchObject({ workflow: 'deprovision', totals: { succeeded: 12, failed: 0 } });
    expect(service.clientThings()).toEqual([]);
    expect(service.cloud.admin.state().associations[DEMO_CORE_DEVICE] ?? []).toEqual([]);
    // Deprovisioning detaches certificates; it does not delete them.
    expect(service.cloud.admin.state().certificates).toHaveLength(12);

    const again = await iotProvision(manifest, join(directory, 'deprovision'), '--deprovision');
    expect(again.exitCode).toBe(0);
    expect(again.report.totals).toMatchObject({ requests: 1, requestsSkipped: 1, succeeded: 12, succeededEarlier: 12 });
  });

  it('provisions and removes the same manifest again in new runs, not answered by the executions of the old ones', async () => {
    await service.cloud.admin.reset();
    const directory = await workDirectory();
    const manifest = join(directory, 'fleet.csv');
    await createDemoFleet(manifest, 5);
    for (const cycle of [1, 2]) {
      expect((await iotProvision(manifest, join(directory, `provision-${cycle}`))).report.totals).toMatchObject({
        succeeded: 5,
        succeededEarlier: 0,
      });
      expect(service.clientThings()).toHaveLength(5);
      expect((await iotProvision(manifest, join(directory, `deprovision-${cycle}`), '--deprovision')).report.totals).toMatchObject({
        succeeded: 5,
        succeededEarlier: 0,
      });
      expect(service.clientThings()).toEqual([]);
    }
  });

  it('names the API by --api-url in the command it prints when API_PORT moved it', async () => {
    const path = join(await workDirectory(), 'moved-api.csv');
    const script = (env: Record<string, string>) =>
      promisify(execFile)(process.execPath, [DEMO_FLEET_SCRIPT, '--devices', '1', '--out', path, '--endpoint', service.url], {
        env: { ...process.env, ...env },
      });

    expect((await script({ API_PORT: '3977' })).stdout).toContain(`npx iot-provision ${path} --api-url http://127.0.0.1:3977\n`);
    expect((await script({ API_PORT: '' })).stdout).toContain(`npx iot-provision ${path}\n`);
  });

  it('is offered with flags only for the URLs that are not the defaults', () => {
    expect(demoFleetCommand('http://127.0.0.1:4566', 'http://127.0.0.1:3000')).toBe(
      'npm run demo-fleet && npx iot-provision demo-fleet.csv',
    );
    expect(demoFleetCommand('http://127.0.0.1:4977', 'http://127.0.0.1:3977')).toBe(
      'npm run demo-fleet -- --endpoint http://127.0.0.1:4977 && npx iot-provision demo-fleet.csv --api-url http://127.0.0.1:3977',
    );
  });
});
