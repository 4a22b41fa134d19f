import { defaultTemplateName, shippedTemplates } from '../../templates/index.ts';
import type { DeprovisioningRequest } from './deprovisioning-request.ts';
import { planClientDeviceBatches } from './client-device-batches.ts';
import type { ProvisioningRequest } from './provisioning-request.ts';
import { analyzeTemplate } from './provisioning-template.ts';
import type { ClientDeviceBatch, DeviceRecord, ProvisioningExecutionInput } from './records.ts';

/**
 * Not a function of the request alone: the pacing depends on how many executions are running, so a
 * repeated request may yield another input, which StartExecution answers with ExecutionAlreadyExists.
 * Idempotency rests on the execution name and the request digest the input carries (request-digest.ts).
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
