import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import * as z from 'zod/mini';
// The contract's schemas register themselves, named, with zod's global registry as the module loads.
import {
  COMPLETION_DETAIL_TYPES,
  DEFAULT_LIST_LIMIT,
  FLEET_COMPLETION_DETAIL_TYPE,
  FLEET_RUN_ID_PATTERN,
  MAX_LIST_LIMIT,
  REQUEST_ID_PATTERN,
} from '../functions/contract.ts';

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

const conflict = {
  type: 'object',
  required: ['message', 'requestId'],
  properties: {
    message: { type: 'string' },
    requestId: { type: 'string' },
    executionArn: { type: 'string', description: 'The execution of the other request under this requestId (a reused key).' },
    heldDevices: {
      type: 'array',
      description: 'The devices that running requests hold (a device belongs to one running request at a time).',
      items: {
        type: 'object',
        required: ['thingName', 'heldBy'],
        properties: {
          thingName: { type: 'string' },
          heldBy: {
            type: 'object',
            required: ['workflow', 'requestId'],
            properties: { workflow: { type: 'string', enum: ['provision', 'deprovision'] }, requestId: { type: 'string' } },
          },
        },
      },
    },
  },
};

/** A cancel of a request (or fleet run) whose execution has ended: there is nothing left to stop. */
const alreadyEnded = (idField: 'requestId' | 'fleetRunId') => ({
  type: 'object',
  required: ['message', idField, 'executionArn', 'executionStatus', 'statusUrl'],
  properties: {
    message: { type: 'string' },
    [idField]: { type: 'string' },
    executionArn: { type: 'string' },
    executionStatus: { type: 'string', description: 'How the execution ended (SUCCEEDED also when a cancel reached it: see the summary).' },
    statusUrl: { type: 'string', format: 'uri' },
  },
});

function json(schemaRef: string) {
  return { content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaRef}` } } } };
}

/** A configuration to fix (AWS_ENDPOINT_URL naming an endpoint where nothing listens), not a moment to wait out. */
const endpointUnreachable = {
  description:
    'The function could not reach the AWS endpoint it is configured with (a local cloud on another port, say); the message names it. Sending the request again does not help',
  content: { 'application/json': { schema: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } } } },
};

/** The same request may be sent again, unchanged: its requestId keeps it idempotent. */
function retryLater(cause: string) {
  return {
    description: `${cause}: send the same request again after Retry-After seconds`,
    headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 } } },
    content: { 'application/json': { schema: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } } } },
  };
}

/** `GET /<collection>?status=&limit=&nextToken=`, of requests or of fleet runs. */
function listOperation(noun: string, listSchema: string) {
  return {
    summary: `List ${noun}, newest first`,
    parameters: [
      {
        name: 'status',
        in: 'query',
        required: false,
        schema: { type: 'string', enum: ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] },
        description: `Only ${noun} whose execution has this status.`,
      },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT },
      },
      { name: 'nextToken', in: 'query', required: false, schema: { type: 'string' }, description: 'The nextToken of the previous page.' },
    ],
    responses: {
      '200': { description: `A page of ${noun}`, ...json(listSchema) },
      '400': { description: 'A malformed query parameter, or a nextToken this list did not give', ...json('FieldErrors') },
      '429': retryLater('Step Functions throttled the listing'),
      '503': retryLater('Step Functions was unavailable'),
      '502': endpointUnreachable,
    },
  };
}

function requestRoutes(collection: string, requestSchema: string, noun: string) {
  return {
    [`/${collection}`]: {
      get: listOperation(`${noun} requests`, 'RequestList'),
      post: {
        summary: `Start a ${noun} request`,
        parameters: [
          { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: REQUEST_ID_PATTERN.source } },
        ],
        requestBody: { required: true, ...json(requestSchema) },
        responses: {
          '202': { description: 'Accepted: the execution runs (or already ran) for this requestId', ...json('Accepted') },
          '400': { description: 'Invalid request: every violation with its field', ...json('FieldErrors') },
          '409': {
            description:
              'The requestId was already used with a different body, or devices of the request belong to running requests (send it again once they have finished); nothing was started',
            ...json('Conflict'),
          },
          '413': { description: 'The body is larger than one request may be', ...json('FieldErrors') },
          '415': {
            description: 'The Content-Type header names something other than JSON in UTF-8 (application/json or application/*+json)',
            ...json('FieldErrors'),
          },
          '429': retryLater('Step Functions throttled the start of the execution'),
          '503': retryLater(
            'Step Functions was unavailable, or does not show yet the execution that a concurrent duplicate of this request started',
          ),
          '502': endpointUnreachable,
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
          '429': retryLater('Step Functions throttled the reading of the execution'),
          '503': retryLater('Step Functions was unavailable'),
          '502': endpointUnreachable,
        },
      },
    },
    [`/${collection}/{requestId}/cancel`]: {
      post: {
        summary: `Cancel a running ${noun} request: devices under way finish (or roll back) as usual, devices not yet started are reported NOT_STARTED`,
        parameters: [{ name: 'requestId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '202': {
            description:
              'The cancel is taken (the same again for a repeated cancel); the status URL shows the outcome once the execution ends',
            ...json('Accepted'),
          },
          '400': { description: 'Malformed requestId', ...json('FieldErrors') },
          '404': { description: 'No such request' },
          '409': {
            description: 'The request has already ended: nothing to cancel',
            content: { 'application/json': { schema: alreadyEnded('requestId') } },
          },
          '429': retryLater('Step Functions or DynamoDB throttled the cancel'),
          '503': retryLater('Step Functions or DynamoDB was unavailable'),
          '502': endpointUnreachable,
        },
      },
    },
  };
}

const fleetRunIdParameter = {
  name: 'fleetRunId',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: FLEET_RUN_ID_PATTERN.source },
};

const fleetAccepted = {
  type: 'object',
  required: ['fleetRunId', 'executionArn', 'statusUrl'],
  properties: { fleetRunId: { type: 'string' }, executionArn: { type: 'string' }, statusUrl: { type: 'string', format: 'uri' } },
};

/** Fleet runs (functions/api/fleet-run-routes.ts, docs/fleet-runs.md). */
function fleetRoutes() {
  return {
    '/fleet-runs': {
      get: listOperation('fleet runs', 'FleetRunList'),
      post: {
        summary: 'Start a fleet run: a manifest in the fleet bucket, validated whole, then provisioned (or deprovisioned) in batches',
        parameters: [
          { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: FLEET_RUN_ID_PATTERN.source } },
        ],
        requestBody: { required: true, ...json('FleetRunRequest') },
        responses: {
          '202': {
            description:
              'Accepted: the run runs (or already ran) for this fleetRunId. An invalid manifest ends it FAILED, touching nothing',
            content: { 'application/json': { schema: fleetAccepted } },
          },
          '400': { description: 'Invalid body: every violation with its field', ...json('FieldErrors') },
          '409': {
            description: 'The fleetRunId was already used with another manifest, action or options; nothing was started',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['message', 'fleetRunId'],
                  properties: { message: { type: 'string' }, fleetRunId: { type: 'string' }, executionArn: { type: 'string' } },
                },
              },
            },
          },
          '415': { description: 'The Content-Type header names something other than JSON in UTF-8', ...json('FieldErrors') },
          '429': retryLater('Step Functions throttled the start of the run'),
          '503': retryLater('Step Functions was unavailable'),
          '502': endpointUnreachable,
        },
      },
    },
    '/fleet-runs/{fleetRunId}': {
      get: {
        summary: 'A fleet run: its counts so far and, once ended, its outcome and report (or its manifest’s problems)',
        parameters: [fleetRunIdParameter],
        responses: {
          '200': { description: 'The run', ...json('FleetRunStatus') },
          '400': { description: 'Malformed fleetRunId', ...json('FieldErrors') },
          '404': { description: 'No such run' },
          '429': retryLater('Step Functions throttled the reading of the run'),
          '503': retryLater('Step Functions was unavailable'),
          '502': endpointUnreachable,
        },
      },
    },
    '/fleet-runs/{fleetRunId}/cancel': {
      post: {
        summary:
          'Cancel a running fleet run: no new batch starts; batches under way finish or roll back as usual, their devices not yet started end NOT_STARTED; the report says which',
        parameters: [fleetRunIdParameter],
        responses: {
          '202': {
            description: 'The cancel is taken (the same again for a repeated cancel); GET shows outcome CANCELLED once the run ends',
            content: {
              'application/json': {
                schema: {
                  ...fleetAccepted,
                  properties: {
                    ...fleetAccepted.properties,
                    batchesCancelled: {
                      type: 'array',
                      items: { type: 'string' },
                      description: 'The requests of the batches under way, each cancelled in turn.',
                    },
                  },
                },
              },
            },
          },
          '400': { description: 'Malformed fleetRunId', ...json('FieldErrors') },
          '404': { description: 'No such run' },
          '409': {
            description: 'The run has already ended: nothing to cancel',
            content: { 'application/json': { schema: alreadyEnded('fleetRunId') } },
          },
          '429': retryLater('Step Functions or DynamoDB throttled the cancel'),
          '503': retryLater('Step Functions or DynamoDB was unavailable'),
          '502': endpointUnreachable,
        },
      },
    },
    '/fleet-uploads': {
      post: {
        summary:
          'A presigned PUT URL for a new manifest in the fleet bucket (under uploads/, which starts no run by itself): upload, then POST /fleet-runs with its manifest',
        requestBody: { required: false, ...json('FleetUploadRequest') },
        responses: {
          '201': { description: 'Where and how to upload', ...json('FleetUpload') },
          '400': { description: 'Invalid body: every violation with its field', ...json('FieldErrors') },
          '415': { description: 'The Content-Type header names something other than JSON in UTF-8', ...json('FieldErrors') },
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
  const requests = components('input', ['ProvisioningRequest', 'DeprovisioningRequest', 'FleetRunRequest', 'FleetUploadRequest']);
  const answers = components('output', [
    'RequestStatus',
    'RequestProgress',
    'RequestSummary',
    'DeviceOutcome',
    'StepError',
    'RollbackReport',
    'UnsettledDevices',
    'UnsettledDevice',
    'RequestList',
    'RequestListItem',
    'FleetRunStatus',
    'FleetRunDevices',
    'FleetTotals',
    'FleetReportFiles',
    'FleetRunError',
    'FleetRunList',
    'FleetRunListItem',
    'FleetUpload',
  ]);
  return {
    openapi: '3.0.3',
    info: {
      title: 'iot-provisioning-workflow',
      version: '0.1.0',
      description:
        'Provision IoT devices into AWS IoT Core and associate them with AWS IoT Greengrass V2 core devices. Every method requires IAM (SigV4) authorization.',
    },
    paths: {
      ...requestRoutes('provisioning-requests', 'ProvisioningRequest', 'provisioning'),
      ...requestRoutes('deprovisioning-requests', 'DeprovisioningRequest', 'deprovisioning'),
      ...fleetRoutes(),
    },
    components: {
      securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', 'x-amazon-apigateway-authtype': 'awsSigv4' } },
      schemas: { ...requests, ...answers, Accepted: accepted, FieldErrors: fieldError, Conflict: conflict },
    },
    security: [{ sigv4: [] }],
  };
}

export function renderOpenApi(): string {
  return `# Generated by \`npm run openapi\` from functions/domain/*-request.ts, request-status.ts, fleet-run-schemas.ts and fleet-upload.ts. Do not edit by hand.\n${stringify(buildOpenApiDocument(), { aliasDuplicateObjects: false })}`;
}

/** An event on the bus: EventBridge's envelope around the detail, as the EventBridge schema registry writes it. */
function awsEvent(detailType: string, detailSchema: string) {
  return {
    type: 'object',
    required: ['detail-type', 'resources', 'detail', 'id', 'source', 'time', 'region', 'version', 'account'],
    'x-amazon-events-detail-type': detailType,
    'x-amazon-events-source': 'iot-provisioning-workflow (the stage parameter eventSource)',
    properties: {
      detail: { $ref: `#/components/schemas/${detailSchema}` },
      account: { type: 'string' },
      'detail-type': { type: 'string', enum: [detailType] },
      id: { type: 'string' },
      region: { type: 'string' },
      resources: { type: 'array', items: { type: 'string' } },
      source: { type: 'string' },
      time: { type: 'string', format: 'date-time' },
      version: { type: 'string' },
    },
  };
}

/** The events every request ends with (functions/publish-completion.ts), in the EventBridge schema registry's OpenAPI form. */
export function buildEventsDocument() {
  return {
    openapi: '3.0.0',
    info: {
      title: 'iot-provisioning-workflow events',
      version: '1.0.0',
      description:
        "Published on the service's bus (the stage parameter eventBus) when a provisioning or deprovisioning request, or a fleet run, ends.",
    },
    paths: {},
    components: {
      schemas: {
        ProvisioningRequestCompleted: awsEvent(COMPLETION_DETAIL_TYPES.provision, 'RequestCompleted'),
        DeprovisioningRequestCompleted: awsEvent(COMPLETION_DETAIL_TYPES.deprovision, 'RequestCompleted'),
        FleetRunCompleted: awsEvent(FLEET_COMPLETION_DETAIL_TYPE, 'FleetRunCompletedDetail'),
        ...components('output', ['RequestCompleted', 'FleetRunCompletedDetail', 'FleetTotals', 'FleetReportFiles', 'FleetRunError']),
      },
    },
  };
}

export function renderEvents(): string {
  return `# Generated by \`npm run openapi\` from functions/domain/completion-event-schema.ts and fleet-run-schemas.ts. Do not edit by hand.\n${stringify(buildEventsDocument(), { aliasDuplicateObjects: false })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../docs/openapi.yaml', import.meta.url), renderOpenApi());
  writeFileSync(new URL('../docs/events.yaml', import.meta.url), renderEvents());
}
