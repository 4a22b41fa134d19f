import { defaultTemplateName, shippedTemplates } from '../../templates/index.ts';
import { planClientDeviceBatches } from './client-device-batches.ts';
import type { DeprovisioningRequest } from './deprovisioning-request.ts';
import type { ProvisioningRequest } from './provisioning-request.ts';
import { analyzeTemplate } from './provisioning-template.ts';
import type { ClientDeviceBatch, DeviceRecord, ProvisioningExecutionInput } from './records.ts';

/**
 * Not a function of the request alone: the pacing depends on how many executions are running, so a
 * repeated request may yield another input, which StartExecution answers with ExecutionAlreadyExists.
 * Idempotency rests on the execution name and the digest of the request's intent that the input carries
 * (provisioningIntent below, request-digest.ts).
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

/**
 * What a client asked for, every default resolved: two requests are the same one whether their defaults are
 * spelled out or left out, and whether their id came in the body or in the Idempotency-Key header. A shipped
 * template is named, not quoted, so that a redeploy which edits it does not turn a retry into a 409.
 */
export function provisioningIntent(request: ProvisioningRequest): unknown {
  // Stryker disable next-line StringLiteral: equivalent: the request id given is left out of the intent
  const { requestId, pacing, templateBody, templateIssuesCertificate, ...intent } = toProvisioningExecutionInput(request, '', 0);
  return intent.templateName ? intent : { ...intent, templateBody };
}

/** What a client asked for, as provisioningIntent. */
export function deprovisioningIntent(request: DeprovisioningRequest): unknown {
  // Stryker disable next-line StringLiteral: equivalent: the request id given is left out of the intent
  const { requestId, batches, ...intent } = toDeprovisioningExecutionInput(request, '');
  return { ...intent, disassociate: request.disassociate };
}
