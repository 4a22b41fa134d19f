import * as z from 'zod/mini';
import { MAX_DEVICES_PER_REQUEST } from './limits.ts';
import { hasDeviceList, requestIdSchema, thingNameSchema } from './provisioning-request.ts';

function flag(defaultValue: boolean, description: string) {
  return z._default(z.boolean(), defaultValue).check(z.meta({ description }));
}

const requestFields = z.strictObject({
  requestId: z.optional(requestIdSchema),
  coreDeviceThingName: z.optional(thingNameSchema).check(z.meta({ description: 'Default core device to disassociate from.' })),
  disassociate: flag(true, 'Disassociate each device from its core device.'),
  detachPrincipals: flag(true, 'Detach every principal attached to each thing.'),
  deleteThings: flag(true, 'Delete each thing (requires detachPrincipals: true and disassociate: true).'),
  devices: z
    .array(z.strictObject({ thingName: thingNameSchema, coreDeviceThingName: z.optional(thingNameSchema) }))
    .check(
      z.minLength(1, 'must list at least one device'),
      z.maxLength(MAX_DEVICES_PER_REQUEST, `must list at most ${MAX_DEVICES_PER_REQUEST} devices: split the fleet into several requests`),
    ),
});

export const deprovisioningRequestSchema = requestFields.check(
  z.superRefine(
    (request, context) => {
      // Stryker disable next-line StringLiteral: equivalent: validate() reports an issue by its path and message, whatever its code
      const issue = (path: (string | number)[], message: string) => context.addIssue({ code: 'custom', path, message });
      if (request.deleteThings && !request.detachPrincipals) {
        issue(['detachPrincipals'], 'must be true when deleteThings is true: a thing with principals cannot be deleted');
      }
      // Greengrass keeps the association of a deleted thing: the core device would go on listing a client device that is gone.
      if (request.deleteThings && !request.disassociate) {
        issue(
          ['disassociate'],
          'must be true when deleteThings is true: a deleted thing would stay associated with its core device (or set deleteThings to false)',
        );
      }
      const seen = new Map<string, number>();
      request.devices.forEach((device, index) => {
        if (typeof device?.thingName !== 'string') return;
        const earlier = seen.get(device.thingName);
        if (earlier === undefined) seen.set(device.thingName, index);
        else issue(['devices', index, 'thingName'], `duplicates devices[${earlier}].thingName "${device.thingName}"`);
        if (request.disassociate && device.coreDeviceThingName === undefined && request.coreDeviceThingName === undefined) {
          issue(['devices', index, 'coreDeviceThingName'], 'is required to disassociate when the request has no coreDeviceThingName');
        }
      });
    },
    { when: hasDeviceList },
  ),
  z.meta({
    id: 'DeprovisioningRequest',
    description: 'Devices to disassociate from their core devices, detach from their principals and delete.',
  }),
);

export type DeprovisioningRequest = z.infer<typeof deprovisioningRequestSchema>;
