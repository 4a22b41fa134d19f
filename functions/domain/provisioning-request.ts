import * as z from 'zod/mini';
import type { $RefinementCtx } from 'zod/v4/core';
import { defaultTemplateName, shippedTemplateNames, shippedTemplates } from '../../templates/index.ts';
import {
  CERTIFICATE_ARN_PATTERN,
  EXCLUSIVE_PRINCIPAL_REASON,
  MAX_DEVICES_PER_REQUEST,
  MAX_PARAMETER_KEY_CHARS,
  MAX_PARAMETER_VALUE_CHARS,
  MAX_PARTITION_CHARS,
  MAX_REGION_CHARS,
  MAX_REQUEST_BYTES,
  MAX_SHARED_PARAMETERS_BYTES,
  MAX_TEMPLATE_BODY_CHARS,
  REQUEST_ID_PATTERN,
  THING_NAME_PATTERN,
} from './limits.ts';
import { ATTRIBUTE_VALUE_RULE, analyzeTemplate, isValidAttributeValue } from './provisioning-template.ts';
import { isRecord } from './validation.ts';

// zod/mini rather than zod: the same schema model at a twentieth of the bundle (22 KB, not 454 KB).

export const thingNameSchema = z
  .string()
  .check(z.regex(THING_NAME_PATTERN, 'must be 1-128 characters of a-z, A-Z, 0-9, colon, underscore or hyphen'));

export const requestIdSchema = z
  .string()
  .check(
    z.regex(REQUEST_ID_PATTERN, 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen'),
    z.meta({ description: 'Client idempotency key; the same key and body always reach the same execution.' }),
  );

const certificateArnSchema = z
  .string()
  .check(
    z.regex(
      CERTIFICATE_ARN_PATTERN,
      `must be a certificate ARN: arn:<partition>:iot:<region>:<account>:cert/<64 hex characters>, its partition (aws…) at most ${MAX_PARTITION_CHARS} and its region at most ${MAX_REGION_CHARS} characters`,
    ),
    z.meta({ example: `arn:aws:iot:us-east-1:123456789012:cert/${'a1'.repeat(32)}` }),
  );

const templateParametersSchema = z.record(
  z
    .string()
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(MAX_PARAMETER_KEY_CHARS, `must be at most ${MAX_PARAMETER_KEY_CHARS} characters`),
    ),
  z.string().check(z.maxLength(MAX_PARAMETER_VALUE_CHARS, `must be at most ${MAX_PARAMETER_VALUE_CHARS} characters`)),
);

/** An optional field with its description (and example) for the OpenAPI document. */
function optionalField<T extends z.ZodMiniType>(schema: T, meta: { description: string; example?: string }) {
  return z.optional(schema).check(z.meta(meta));
}

const deviceSchema = z.strictObject({
  thingName: thingNameSchema.check(z.meta({ example: 'sensor-0001' })),
  parameters: optionalField(templateParametersSchema, {
    description: 'Template parameters for this device; they override templateParameters.',
  }),
  principal: optionalField(certificateArnSchema, {
    description: 'Certificate to attach. Required unless the template creates a certificate; not allowed when it issues one from a CSR.',
  }),
  coreDeviceThingName: optionalField(thingNameSchema, { description: "Core device for this device; defaults to the request's." }),
});

const requestFields = z.strictObject({
  requestId: z.optional(requestIdSchema),
  coreDeviceThingName: optionalField(thingNameSchema, {
    description: 'Default Greengrass V2 core device for all devices.',
    example: 'gateway-core-01',
  }),
  templateName: optionalField(
    z.enum(shippedTemplateNames, {
      error: (issue) => `must be one of ${shippedTemplateNames.join(', ')}, not ${JSON.stringify(issue.input)}`,
    }),
    { description: `A template shipped under templates/; default ${defaultTemplateName}.` },
  ),
  templateBody: optionalField(
    z
      .string()
      .check(
        z.minLength(1, 'must not be empty'),
        z.maxLength(MAX_TEMPLATE_BODY_CHARS, `must be at most ${MAX_TEMPLATE_BODY_CHARS} characters`),
      ),
    { description: 'An inline provisioning template (JSON text); declares the parameter ThingName.' },
  ),
  templateParameters: optionalField(
    templateParametersSchema.check(
      z.refine((parameters) => jsonBytes(parameters) <= MAX_SHARED_PARAMETERS_BYTES, {
        error: `must take at most ${MAX_SHARED_PARAMETERS_BYTES} bytes as JSON (the execution state keeps them beside every device's record); put values that differ per device in devices[].parameters`,
      }),
    ),
    { description: `Parameters shared by all devices, at most ${MAX_SHARED_PARAMETERS_BYTES} bytes as JSON.` },
  ),
  thingPrincipalType: z._default(z.enum(['EXCLUSIVE_THING', 'NON_EXCLUSIVE_THING']), 'EXCLUSIVE_THING'),
  rollbackOnFailure: z
    ._default(z.boolean(), true)
    .check(z.meta({ description: 'Remove what this request created for a device that could not be fully provisioned.' })),
  devices: z
    .array(deviceSchema)
    .check(
      z.minLength(1, 'must list at least one device'),
      z.maxLength(
        MAX_DEVICES_PER_REQUEST,
        `must list at most ${MAX_DEVICES_PER_REQUEST} devices: split the fleet into requests of ${MAX_DEVICES_PER_REQUEST} (npx iot-provision does this)`,
      ),
    ),
});

type RequestFields = z.infer<typeof requestFields>;

/**
 * Checks that need more than one field: duplicates, the template, each device's core and principal.
 * They run even when other fields are invalid (so that one response lists every problem), hence
 * the defensive reads: `request` may hold values of the wrong type.
 */
function checkAcrossFields(request: RequestFields, context: $RefinementCtx<RequestFields>): void {
  // Stryker disable next-line StringLiteral: equivalent: validate() reports an issue by its path and message, whatever its code
  const issue = (path: (string | number)[], message: string) => context.addIssue({ code: 'custom', path, message });

  if (request.templateName !== undefined && request.templateBody !== undefined) {
    issue(['templateBody'], 'must not be given with templateName: give one or the other');
  }
  // Without a template to read (an unknown name, a body that is not text: their own fields' errors), the checks
  // that need one are left out; the shipped default is not the template meant.
  const shipped = shippedTemplates[request.templateName ?? defaultTemplateName];
  const templateBody = request.templateBody === undefined ? shipped && JSON.stringify(shipped) : request.templateBody;
  const analysis = typeof templateBody === 'string' ? analyzeTemplate(templateBody) : undefined;
  if (analysis?.ok === false) for (const reason of analysis.reasons) issue(['templateBody'], reason);

  if (isRecord(request.templateParameters) && 'ThingName' in request.templateParameters) {
    issue(['templateParameters', 'ThingName'], "is set from each device's thingName and must not be given");
  }
  // What RegisterThing would refuse for every device, or silently ignore: a parameter the template does not
  // declare would leave its Default in place of a misspelt one; a value the thing takes as an attribute must
  // suit the registry.
  const checkParameters = (parameters: unknown, path: (string | number)[]) => {
    if (!analysis?.ok || !isRecord(parameters)) return;
    const { declaredParameters, attributeParameters } = analysis.facts;
    for (const [name, value] of Object.entries(parameters)) {
      if (name === 'ThingName') continue;
      if (!declaredParameters.includes(name)) {
        issue([...path, name], `is not a parameter of the template, which declares ${declaredParameters.join(', ')}`);
      } else if (Object.hasOwn(attributeParameters, name) && typeof value === 'string' && !isValidAttributeValue(value)) {
        issue([...path, name], `becomes the thing attribute ${attributeParameters[name]}, which takes ${ATTRIBUTE_VALUE_RULE}`);
      }
    }
  };
  checkParameters(request.templateParameters, ['templateParameters']);

  const firstIndexByName = new Map<string, number>();
  const firstIndexByPrincipal = new Map<string, number>();
  request.devices.forEach((device, index) => {
    if (!isRecord(device) || typeof device.thingName !== 'string') return;
    const earlier = firstIndexByName.get(device.thingName);
    if (earlier === undefined) firstIndexByName.set(device.thingName, index);
    else issue(['devices', index, 'thingName'], `duplicates devices[${earlier}].thingName "${device.thingName}"`);

    if (request.thingPrincipalType === 'EXCLUSIVE_THING' && typeof device.principal === 'string') {
      const earlierWithPrincipal = firstIndexByPrincipal.get(device.principal);
      if (earlierWithPrincipal === undefined) firstIndexByPrincipal.set(device.principal, index);
      else issue(['devices', index, 'principal'], `duplicates devices[${earlierWithPrincipal}].principal: ${EXCLUSIVE_PRINCIPAL_REASON}`);
    }

    if (device.coreDeviceThingName === undefined && request.coreDeviceThingName === undefined) {
      issue(['devices', index, 'coreDeviceThingName'], 'is required when the request has no coreDeviceThingName');
    }
    if (isRecord(device.parameters) && 'ThingName' in device.parameters) {
      issue(['devices', index, 'parameters', 'ThingName'], 'is set from thingName and must not be given');
    }
    checkParameters(device.parameters, ['devices', index, 'parameters']);
    if (!analysis?.ok) return;
    if (device.principal === undefined && !analysis.facts.createsCertificate) {
      issue(['devices', index, 'principal'], 'is required because the template creates no certificate');
    }
    // The device would end with two certificates, one its own: a rollback must never mistake which one it issued.
    if (device.principal !== undefined && analysis.facts.issuesCertificate) {
      issue(['devices', index, 'principal'], "must not be given: the template issues the device's certificate from its CSR");
    }
    for (const name of analysis.facts.requiredParameters) {
      if (device.parameters?.[name] === undefined && request.templateParameters?.[name] === undefined) {
        issue(['devices', index, 'parameters', name], 'is required by the template (it has no Default) and is not in templateParameters');
      }
    }
  });
}

/** Bytes as JSON: what an execution input and its states are measured in. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/**
 * The HTTP handlers refuse a larger body before parsing it (413); this bounds the other triggers (EventBridge,
 * a direct invocation) alike, because devices' parameters are bounded by nothing else and the whole request
 * becomes the execution input.
 */
function checkSize(request: RequestFields, context: $RefinementCtx<RequestFields>): void {
  const bytes = jsonBytes(request);
  if (bytes > MAX_REQUEST_BYTES) {
    context.addIssue({
      // Stryker disable next-line StringLiteral: equivalent: validate() reports an issue by its path and message, whatever its code
      code: 'custom',
      path: [],
      message: `takes ${bytes} bytes as JSON, more than the ${MAX_REQUEST_BYTES} a request may have: split the devices over several requests`,
    });
  }
}

/** Cross-field checks need an object with a device list, whatever else is wrong with it. */
export function hasDeviceList(payload: { value: unknown }): boolean {
  return isRecord(payload.value) && Array.isArray(payload.value.devices);
}

/** The single source of truth for a provisioning request: validation, the TypeScript type, the OpenAPI schema. */
export const provisioningRequestSchema = requestFields.check(
  z.superRefine(checkAcrossFields, { when: hasDeviceList }),
  z.superRefine(checkSize, { when: hasDeviceList }),
  z.meta({
    id: 'ProvisioningRequest',
    description: 'Devices to register in AWS IoT, attach to their certificates and associate with Greengrass V2 core devices.',
  }),
);

export type ProvisioningRequest = z.infer<typeof provisioningRequestSchema>;
