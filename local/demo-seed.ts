import { CreateKeysAndCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { DEMO_CORE_DEVICE } from '../local-cloud/config.ts';

const DEMO_DEVICE = 'demo-sensor-1';

/** A certificate for the demo device, created through the local cloud's IoT API like a real operator would. */
export async function createDemoCertificate(endpoint: string, region: string): Promise<string> {
  const iot = new IoTClient({ endpoint, region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    if (!certificateArn) throw new Error('CreateKeysAndCertificate returned no certificateArn');
    return certificateArn;
  } finally {
    iot.destroy();
  }
}

/** The request body that provisions the demo device on the demo core. */
export function demoProvisioningRequest(certificateArn: string): string {
  return JSON.stringify({ coreDeviceThingName: DEMO_CORE_DEVICE, devices: [{ thingName: DEMO_DEVICE, principal: certificateArn }] });
}
