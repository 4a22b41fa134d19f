import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import * as z from 'zod/mini';
import { deprovisioningRequestSchema } from '../functions/domain/deprovisioning-request.ts';
import { provisioningRequestSchema } from '../functions/domain/provisioning-request.ts';

const fieldError = {
  type: 'object',
  required: ['message', 'errors'],
  properties: {
    message: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'reason'],
        properties: { field: { type: 'string', example: 'devices[3].thingName' }, reason: { type: 'string' } },
      },
    },
  },
};

const accepted = {
  type: 'object',
  required: ['requestId', 'executionArn', 'statusUrl'],
  properties: { requestId: { type: 'string' }, executionArn: { type: 'string' }, statusUrl: { type: 'string', format: 'uri' } },
};

const deviceOutcome = {
  type: 'object',
  required: ['thingName', 'status', 'coreDeviceThingName'],
  properties: {
    thingName: { type: 'string' },
    status: { enum: ['PROVISIONED', 'DEPROVISIONED', 'FAILED'] },
    coreDeviceThingName: { type: 'string' },
    thingArn: { type: 'string' },
    certificateArn: { type: 'string' },
    error: {
      type: 'object',
      properties: {
        step: { enum: ['inspect', 'register', 'attach', 'associate', 'disassociate', 'detach', 'delete', 'rollback'] },
        code: { type: 'string' },
        message: { type: 'string' },
      },
    },
    rollback: {
      type: 'object',
      properties: {
        detachedPrincipals: { type: 'array', items: { type: 'string' } },
        thingDeleted: { type: 'boolean' },
        certificateDeleted: { type: 'boolean' },
      },
    },
  },
};

const requestStatus = {
  type: 'object',
  required: ['requestId', 'executionArn', 'status'],
  properties: {
    requestId: { type: 'string' },
    executionArn: { type: 'string' },
    status: { enum: ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] },
    startDate: { type: 'string', format: 'date-time' },
    stopDate: { type: 'string', format: 'date-time' },
    summary: {
      type: 'object',
      properties: {
        requestId: { type: 'string' },
        status: { enum: ['SUCCEEDED', 'PARTIAL', 'FAILED'] },
        counts: {
          type: 'object',
          properties: { requested: { type: 'integer' }, succeeded: { type: 'integer' }, failed: { type: 'integer' }, rolledBack: { type: 'integer' } },
        },
        devices: { type: 'array', items: { $ref: '#/components/schemas/DeviceOutcome' } },
      },
    },
  },
};

function json(schemaRef: string) {
  return { content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaRef}` } } } };
}

/** The same request may be sent again, unchanged: its requestId keeps it idempotent. */
function retryLater(cause: string) {
  return {
    description: `${cause}: send the same request again after Retry-After seconds`,
    headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 } } },
    content: { 'application/json': { schema: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } } } },
  };
}

function requestRoutes(collection: string, requestSchema: string, noun: string) {
  return {
    [`/${collection}`]: {
      post: {
        summary: `Start a ${noun} request`,
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,80}$' } }],
        requestBody: { required: true, ...json(requestSchema) },
        responses: {
          '202': { description: 'Accepted: the execution runs (or already ran) for this requestId', ...json('Accepted') },
          '400': { description: 'Invalid request: every violation with its field', ...json('FieldErrors') },
          '409': { description: 'The requestId was already used with a different body' },
          '413': { description: 'The body is larger than one request may be', ...json('FieldErrors') },
          '429': retryLater('Step Functions throttled the start of the execution'),
          '503': retryLater('Step Functions was unavailable, or does not show yet the execution that a concurrent duplicate of this request started'),
        },
      },
    },
    [`/${collection}/{requestId}`]: {
      get: {
        summary: `The status of a ${noun} request and, once finished, its summary`,
        parameters: [{ name: 'requestId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'The request', ...json('RequestStatus') },
          '400': { description: 'Malformed requestId', ...json('FieldErrors') },
          '404': { description: 'No such request' },
        },
      },
    },
  };
}

/** Built from the request schemas themselves, so the document cannot drift from validation. */
export function buildOpenApiDocument() {
  const schemas = z.toJSONSchema(z.object({ provisioning: provisioningRequestSchema, deprovisioning: deprovisioningRequestSchema }), {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'any',
  }) as { $defs?: Record<string, unknown>; definitions?: Record<string, unknown> };
  return {
    openapi: '3.0.3',
    info: {
      title: 'iot-provisioning-workflow',
      version: '0.1.0',
      description: 'Provision IoT devices into AWS IoT Core and associate them with AWS IoT Greengrass V2 core devices. Every method requires IAM (SigV4) authorization.',
    },
    paths: { ...requestRoutes('provisioning-requests', 'ProvisioningRequest', 'provisioning'), ...requestRoutes('deprovisioning-requests', 'DeprovisioningRequest', 'deprovisioning') },
    components: {
      securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', 'x-amazon-apigateway-authtype': 'awsSigv4' } },
      schemas: { ...(schemas.$defs ?? schemas.definitions), Accepted: accepted, FieldErrors: fieldError, RequestStatus: requestStatus, DeviceOutcome: deviceOutcome },
    },
    security: [{ sigv4: [] }],
  };
}

export function renderOpenApi(): string {
  return `# Generated by \`npm run openapi\` from functions/domain/*-request.ts. Do not edit by hand.\n${stringify(buildOpenApiDocument(), { aliasDuplicateObjects: false })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../docs/openapi.yaml', import.meta.url), renderOpenApi());
}
