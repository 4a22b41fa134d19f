import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import * as z from 'zod/mini';
import { REQUEST_ID_PATTERN } from '../functions/domain/limits.ts';
// Imported for their named schemas, which register themselves with zod's global registry.
import '../functions/domain/deprovisioning-request.ts';
import '../functions/domain/provisioning-request.ts';
import '../functions/domain/request-status.ts';

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
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: REQUEST_ID_PATTERN.source } }],
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

/**
 * Zod spells a safe integer and an ISO date-time out as bounds and a regular expression; `integer` and
 * `format: date-time` say the same to a reader of the document.
 */
function plainer({ jsonSchema }: { jsonSchema: Record<string, unknown> }): void {
  if (jsonSchema.type === 'integer' && jsonSchema.maximum === Number.MAX_SAFE_INTEGER) {
    delete jsonSchema.minimum;
    delete jsonSchema.maximum;
  }
  if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
}

/** The schemas named with `z.meta({ id })`, as OpenAPI components that refer to one another. */
function components(io: 'input' | 'output', ids: string[]): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    io,
    target: 'openapi-3.0',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
    override: plainer,
  });
  // OpenAPI 3.0 names a component by its key; the `$id` zod adds would be one more name for it.
  return Object.fromEntries(ids.map((id) => [id, { ...schemas[id], $id: undefined }]));
}

/**
 * Built from the schemas that validate requests and that type what the workflow answers, so the document
 * cannot drift from either.
 */
export function buildOpenApiDocument() {
  const requests = components('input', ['ProvisioningRequest', 'DeprovisioningRequest']);
  const answers = components('output', ['RequestStatus', 'RequestSummary', 'DeviceOutcome', 'StepError', 'RollbackReport']);
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
      schemas: { ...requests, ...answers, Accepted: accepted, FieldErrors: fieldError },
    },
    security: [{ sigv4: [] }],
  };
}

export function renderOpenApi(): string {
  return `# Generated by \`npm run openapi\` from functions/domain/*-request.ts and request-status.ts. Do not edit by hand.\n${stringify(buildOpenApiDocument(), { aliasDuplicateObjects: false })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../docs/openapi.yaml', import.meta.url), renderOpenApi());
}
