/**
 * `npm run demo-fleet [-- --devices 100 --out demo-fleet.csv]`, with `npm start` running: a manifest to try
 * the fleet CLI on (`npx iot-provision demo-fleet.csv`), one fresh certificate per device.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../local-cloud/config.ts';
import { createDemoCertificates, demoFleetManifest } from './demo-seed.ts';

/** The local stage's region (serverless.yml), so that the certificates' ARNs match the things'. */
const LOCAL_STAGE_REGION = 'us-east-1';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { devices: { type: 'string', default: '100' }, out: { type: 'string', default: 'demo-fleet.csv' } },
    strict: true,
  });
  const devices = Number(values.devices);
  if (!Number.isInteger(devices) || devices < 1) throw new Error(`--devices must be a positive integer, not ${values.devices}`);
  const { host, port } = loadConfig(process.env, []);
  const endpoint = `http://${host}:${port}`;
  console.log(`Creating ${devices} certificates in the local cloud at ${endpoint} (10 a second, its CreateKeysAndCertificate quota) …`);
  const certificateArns = await createDemoCertificates(endpoint, LOCAL_STAGE_REGION, devices);
  await writeFile(values.out, demoFleetManifest(certificateArns));
  console.log(`Wrote ${values.out}. Provision the fleet with:\n  npx iot-provision ${values.out}`);
}

main().catch((error: unknown) => {
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`demo-fleet failed: ${reason}${/ECONNREFUSED/.test(reason) ? ' (is `npm start` running?)' : ''}`);
  process.exit(1);
});
