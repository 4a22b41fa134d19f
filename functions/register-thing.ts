import { RegisterThingCommand } from '@aws-sdk/client-iot';
import { iot } from './aws/clients/iot.ts';
import type { DeviceRecord, DeviceTaskInput } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';

export class RegistrationIncompleteError extends Error {
  override name = 'RegistrationIncomplete';
}

/**
 * RegisterThing is idempotent for an existing thing (the template's OverrideSettings decide what
 * changes), so a retry after a lost response converges on the same thing. The certificate PEM in the
 * response is deliberately dropped: it never enters the execution history or the logs.
 */
export async function registerThing(input: DeviceTaskInput & { device: DeviceRecord }): Promise<DeviceRecord> {
  const { spec, device } = input;
  const response = await iot.send(
    new RegisterThingCommand({
      templateBody: input.templateBody,
      parameters: { ...input.templateParameters, ...spec.parameters, ThingName: spec.thingName },
    }),
  );
  const arns = Object.values(response.resourceArns ?? {});
  const thingArn = arns.find((arn) => arn.includes(':thing/'));
  if (!thingArn) throw new RegistrationIncompleteError(`RegisterThing returned no thing ARN for ${spec.thingName}`);
  const certificateArn = arns.find((arn) => arn.includes(':cert/'));
  return { ...device, thingArn, ...(certificateArn && { certificateArn, certificateCreated: input.templateIssuesCertificate }) };
}

export const handler = taskHandler('register', registerThing);
