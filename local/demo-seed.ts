import { CreateKeysAndCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { DEFAULT_API_URL } from '../cli/arguments.ts';
import { DEMO_CORE_DEVICE, loadConfig, localCloudUrl } from '../local-cloud/config.ts';

const DEMO_DEVICE = 'demo-sensor-1';

/**
 * Certificates for demo devices, created through the local cloud's IoT API like a real operator would.
 * Its CreateKeysAndCertificate quota (10/s, as on AWS) sets the pace: the adaptive retry mode waits for
 * tokens instead of giving up after three throttled attempts.
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
      const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      if (!certificateArn) throw new Error('CreateKeysAndCertificate returned no certificateArn');
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
  const api = apiUrl === DEFAULT_API_URL ? '' : ` --api-url ${apiUrl}`;
  return `npm run demo-fleet${endpoint} && npx iot-provision demo-fleet.csv${api}`;
}
