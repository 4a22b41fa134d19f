import { AttachThingPrincipalCommand, DeleteCertificateCommand, IoTClient, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord, DeviceTaskInput } from '../../../functions/domain/records.ts';
import { planRollback } from '../../../functions/domain/rollback.ts';

/**
 * Validation refuses a principal with a template that issues the certificate; these cases check the
 * task's own guard, for a request that got past it (an execution started by hand, say).
 */
describe('attaching a certificate the device brought', () => {
  const iot = mockClient(IoTClient);
  let attachPrincipal: (input: DeviceTaskInput & { device: DeviceRecord }) => Promise<DeviceRecord>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    ({ attachPrincipal } = await import('../../../functions/attach-principal.ts'));
  });
  afterEach(() => iot.reset());

  const own = `arn:aws:iot:us-east-1:000000000000:cert/${'a'.repeat(64)}`;
  const issued = `arn:aws:iot:us-east-1:000000000000:cert/${'b'.repeat(64)}`;

  it('never records it as issued by this execution, so neither attach nor rollback deletes it', async () => {
    iot.on(AttachThingPrincipalCommand).resolves({});
    const attached = await attachPrincipal({
      spec: { thingName: 'sensor-1', coreDeviceThingName: 'core-a', principal: own, parameters: {} },
      device: {
        thingName: 'sensor-1',
        coreDeviceThingName: 'core-a',
        status: 'PENDING',
        principal: own,
        prior: { thingExisted: false, principalAttached: false },
        thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/sensor-1',
        certificateArn: issued,
        certificateCreated: true,
      },
      templateBody: '{}',
      templateIssuesCertificate: true,
      templateParameters: {},
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      correlation: { requestId: 'r', executionName: 'r' },
    });

    expect(attached).toMatchObject({ certificateArn: own, certificateCreated: false, status: 'REGISTERED' });
    expect(iot.commandCalls(ListThingPrincipalsCommand)).toEqual([]);
    expect(iot.commandCalls(DeleteCertificateCommand)).toEqual([]);
    expect(planRollback({ ...attached, status: 'FAILED' }, false).deleteCertificate).toBeUndefined();
  });
});
