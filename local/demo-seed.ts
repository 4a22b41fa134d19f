import { CreateCertificateFromCsrCommand, IoTClient } from '@aws-sdk/client-iot';
import { DEFAULT_API_URL } from '../cli/arguments.ts';
import { DEMO_CORE_DEVICE, loadConfig, localCloudUrl, parsePort } from '../local-cloud/index.ts';
import { createDeviceCsr } from './device-csr.ts';

const DEMO_DEVICE = 'demo-sensor-1';

/**
 * Certificates for demo devices, created through the local cloud's IoT API like a real operator would: each
 * device makes its own key and CSR (EC P-256, milliseconds each), which CreateCertificateFromCsr signs. Its
 * quota sets the pace: the adaptive retry mode waits for tokens instead of giving up after three throttled attempts.
 */
export async function createDemoCertificates(endpoint: string, region: string, count: number): Promise<string[]> {
  const iot = new IoTClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    retryMode: 'adaptive',
    maxAttempts: 10,
  });
  try {
    const certificateArns: string[] = [];
    while (certificateArns.length < count) {
      const { csrPem } = await createDeviceCsr(`demo-device-${certificateArns.length + 1}`);
      const { certificateArn } = await iot.send(
        new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: true }),
      );
      if (!certificateArn) throw new Error('CreateCertificateFromCsr returned no certificateArn');
      certificateArns.push(certificateArn);
    }
    return certificateArns;
  } finally {
    iot.destroy();
  }
}

/** The request body that provisions the demo device on the demo core. */
export function demoProvisioningRequest(certificateArn: string): string {
  return JSON.stringify({ coreDeviceThingName: DEMO_CORE_DEVICE, devices: [{ thingName: DEMO_DEVICE, principal: certificateArn }] });
}

/** A fleet CLI manifest (CSV) of demo devices on the demo core, one per certificate. */
export function demoFleetManifest(certificateArns: readonly string[]): string {
  const rows = certificateArns.map((arn, index) => `demo-fleet-${String(index + 1).padStart(5, '0')},${arn},${DEMO_CORE_DEVICE}`);
  return ['thingName,principal,coreDeviceThingName', ...rows, ''].join('\n');
}

/**
 * The commands that try the fleet CLI on a demo fleet, run from another terminal (which may not share this
 * one's LOCAL_CLOUD_* and API_PORT variables): flags only where the URLs differ from the defaults.
 */
export function demoFleetCommand(cloudUrl: string, apiUrl: string): string {
  const endpoint = cloudUrl === localCloudUrl(loadConfig({}, [])) ? '' : ` -- --endpoint ${cloudUrl}`;
  return `npm run demo-fleet${endpoint} && ${fleetCliCommand('demo-fleet.csv', apiUrl)}`;
}

/** The fleet CLI's command for a manifest, with --api-url only when the API is not where the CLI looks by default. */
export function fleetCliCommand(manifest: string, apiUrl: string): string {
  return `npx iot-provision ${manifest}${apiUrl === DEFAULT_API_URL ? '' : ` --api-url ${apiUrl}`}`;
}

/** Where `npm start` serves the API: on loopback, at API_PORT or else the fleet CLI's default port. */
export function localApiUrl(env: Record<string, string | undefined>): string {
  const url = new URL(DEFAULT_API_URL);
  url.port = String(parsePort('API_PORT', env.API_PORT || undefined, Number(url.port)));
  return url.origin;
}
