import { defaultTemplateName, shippedTemplates } from '../../templates/index.ts';
import type { DeprovisioningRequest } from './deprovisioning-request.ts';
import { planClientDeviceBatches } from './client-device-batches.ts';
import type { ProvisioningRequest } from './provisioning-request.ts';
import { analyzeTemplate } from './provisioning-template.ts';
import type { ClientDeviceBatch, DeviceRecord, ProvisioningExecutionInput } from './records.ts';

/**
 * The execution input is a pure function of the request and the configuration: the same request
 * always yields byte-identical input, which is what makes a repeated StartExecution idempotent.
 */
export function toProvisioningExecutionInput(
  request: ProvisioningRequest,
  requestId: string,
  deviceConcurrency: number,
): ProvisioningExecutionInput {
  const templateName = request.templateBody === undefined ? (request.templateName ?? defaultTemplateName) : undefined;
  const templateBody = request.templateBody ?? JSON.stringify(shippedTemplates[templateName ?? defaultTemplateName]);
  const analysis = analyzeTemplate(templateBody);
  return {
    requestId,
    ...(templateName && { templateName }),
    templateBody,
    templateIssuesCertificate: analysis.ok && analysis.facts.issuesCertificate,
    templateParameters: request.templateParameters ?? {},
    thingPrincipalType: request.thingPrincipalType,
    rollbackOnFailure: request.rollbackOnFailure,
    pacing: { deviceConcurrency },
    devices: request.devices.map((device) => ({
      thingName: device.thingName,
      // The schema guarantees one of the two.
      coreDeviceThingName: (device.coreDeviceThingName ?? request.coreDeviceThingName) as string,
      ...(device.principal && { principal: device.principal }),
      parameters: device.parameters ?? {},
    })),
  };
}

export interface DeprovisioningExecutionInput {
  requestId: string;
  options: { detachPrincipals: boolean; deleteThings: boolean };
  devices: DeviceRecord[];
  batches: ClientDeviceBatch[];
}

export function toDeprovisioningExecutionInput(request: DeprovisioningRequest, requestId: string): DeprovisioningExecutionInput {
  const devices: DeviceRecord[] = request.devices.map((device) => ({
    thingName: device.thingName,
    coreDeviceThingName: device.coreDeviceThingName ?? request.coreDeviceThingName ?? '',
    status: 'PENDING',
  }));
  return {
    requestId,
    options: { detachPrincipals: request.detachPrincipals, deleteThings: request.deleteThings },
    devices,
    batches: request.disassociate ? planClientDeviceBatches(devices) : [],
  };
}
