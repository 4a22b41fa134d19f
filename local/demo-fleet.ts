/**
 * `npm run demo-fleet [-- --devices 100 --out demo-fleet.csv --endpoint <local cloud URL>]`, with `npm start`
 * running: a manifest to try the fleet CLI on (`npx iot-provision demo-fleet.csv`), one fresh certificate
 * per device.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig, loadServerlessProject, localCloudUrl } from '../local-cloud/index.ts';
import { createDemoCertificates, demoFleetManifest, fleetCliCommand, localApiUrl } from './demo-seed.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '100' },
      out: { type: 'string', default: 'demo-fleet.csv' },
      endpoint: { type: 'string', default: localCloudUrl(loadConfig(process.env, [])) },
    },
    strict: true,
  });
  const devices = Number(values.devices);
  if (!Number.isInteger(devices) || devices < 1) throw new Error(`--devices must be a positive integer, not ${values.devices}`);
  // The local stage's region, so that the certificates' ARNs name the region the things' do.
  const { region } = await loadServerlessProject({ env: process.env });
  console.log(`Creating ${devices} certificates in the local cloud at ${values.endpoint}, paced by its CreateCertificateFromCsr quota …`);
  const certificateArns = await createDemoCertificates(values.endpoint, region, devices);
  await writeFile(values.out, demoFleetManifest(certificateArns));
  console.log(`Wrote ${values.out}. Provision the fleet with:\n  ${fleetCliCommand(values.out, localApiUrl(process.env))}`);
}

main().catch((error: unknown) => {
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`demo-fleet failed: ${reason}${/ECONNREFUSED/.test(reason) ? ' (is `npm start` running?)' : ''}`);
  process.exit(1);
});
