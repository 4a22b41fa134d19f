import { AttachThingPrincipalCommand } from '@aws-sdk/client-iot';
import { iot } from './aws/clients/iot.ts';
import { retireCertificatesOfLostAttempts } from './aws/iot-operations.ts';
import type { DeviceRecord, DeviceTaskInput } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';
import { logger } from './lambda/powertools.ts';

export class NoPrincipalError extends Error {
  override name = 'NoPrincipal';
}

/**
 * Attaches the device's own certificate, else the one its template created. Attaching a pair that is
 * already attached succeeds, so a retry converges. A thing this execution created with a CSR template
 * then keeps only that certificate: a retried RegisterThing issues a new one each time.
 */
export async function attachPrincipal(input: DeviceTaskInput & { device: DeviceRecord }): Promise<DeviceRecord> {
  const { device } = input;
  const principal = input.spec.principal ?? device.certificateArn;
  if (!principal) throw new NoPrincipalError(`no principal for ${device.thingName}: give one or use a template that creates a certificate`);
  await iot.send(new AttachThingPrincipalCommand({ thingName: device.thingName, principal, thingPrincipalType: input.thingPrincipalType }));
  // Validation forbids a principal with a CSR template; should one get through, the certificate the
  // device brought is never taken for the issued one, which rollback would delete.
  const attachedIssuedCertificate = device.certificateCreated === true && principal === device.certificateArn;
  if (attachedIssuedCertificate && device.prior?.thingExisted === false) {
    const retired = await retireCertificatesOfLostAttempts(device.thingName, principal);
    if (retired.length > 0) logger.info('retired certificates of lost RegisterThing attempts', { retired });
  }
  return { ...device, certificateArn: principal, certificateCreated: attachedIssuedCertificate, status: 'REGISTERED' };
}

export const handler = taskHandler('attach', attachPrincipal);
