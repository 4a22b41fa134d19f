import type { CoreDeviceRecord, CoreDeviceStatus, LocalCloudState, Stored } from '../store.ts';
import type { LocalCloudContext } from '../wire/context.ts';
import { queryInteger, queryString } from '../wire/http-bindings.ts';
import { InjectedFault } from '../wire/injected-fault.ts';
import { paginate } from '../wire/pagination.ts';
import { requireJsonObject } from '../wire/request-body.ts';
import { encodeRestJsonError, jsonResponse, RestJsonError } from '../wire/rest-json.ts';
import { createOperationResolver, type RestCall, type RestRoute } from '../wire/routes.ts';
import type { EmulatedService, ServiceResponse } from '../wire/service.ts';
import {
  describeViolations,
  requireValid as requireValidInput,
  type StringShape,
  type StructureShape,
  type Violation,
} from '../wire/validation.ts';
import { createThing } from './iot/registry.ts';
import * as iotShapes from './iot/shapes.ts';

/** AWS does not document the default page size of the Greengrass list calls (an assumption). */
const DEFAULT_PAGE_SIZE = 50;
const SERVICE_CODE = 'greengrass';
const CORE_DEVICE_RESOURCE_TYPE = 'CoreDevice';

const GREENGRASS_ERROR_STATUS = {
  ValidationException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  ThrottlingException: 429,
  InternalServerException: 500,
} as const;

type GreengrassErrorCode = keyof typeof GREENGRASS_ERROR_STATUS;
type ValidationReason = 'UNKNOWN_OPERATION' | 'CANNOT_PARSE' | 'FIELD_VALIDATION_FAILED' | 'OTHER';

function greengrassError(code: GreengrassErrorCode, message: string, members?: Record<string, unknown>, headers?: Record<string, string>) {
  return new RestJsonError(code, GREENGRASS_ERROR_STATUS[code], message, members, headers);
}

function validationError(reason: ValidationReason, message: string, violations: readonly Violation[] = []) {
  return greengrassError('ValidationException', message, {
    reason,
    ...(violations.length > 0 && { fields: violations.map(({ path, message }) => ({ name: path, message })) }),
  });
}

function coreDeviceNotFound(coreDeviceThingName: string) {
  return greengrassError('ResourceNotFoundException', `Core device ${coreDeviceThingName} does not exist.`, {
    resourceId: coreDeviceThingName,
    resourceType: CORE_DEVICE_RESOURCE_TYPE,
  });
}

// Constraints hand-written from the Greengrass V2 model (greengrassv2-2020-11-30).
const iotThingName: StringShape = { type: 'string', min: 1, max: 128 };
const coreDeviceString: StringShape = { type: 'string', min: 1, max: 255 };
const coreDeviceStatus: StringShape = { type: 'string', enum: ['HEALTHY', 'UNHEALTHY'] };
const defaultMaxResults = { type: 'integer', min: 1, max: 100 } as const;
const entryList = {
  type: 'list',
  min: 1,
  max: 100,
  member: { type: 'structure', required: ['thingName'], members: { thingName: iotThingName } },
} as const;

const coreDeviceInput: StructureShape = {
  type: 'structure',
  required: ['coreDeviceThingName'],
  members: { coreDeviceThingName: iotThingName },
};
const listCoreDevicesInput: StructureShape = {
  type: 'structure',
  members: {
    thingGroupArn: { type: 'string', pattern: 'arn:[^:]*:iot:[^:]*:[0-9]+:thinggroup/.+' },
    status: coreDeviceStatus,
    maxResults: defaultMaxResults,
    nextToken: { type: 'string' },
    runtime: coreDeviceString,
  },
};
const batchInput: StructureShape = {
  type: 'structure',
  // The model leaves `entries` optional; an absent list is refused like an empty one (an assumption).
  required: ['coreDeviceThingName', 'entries'],
  members: { coreDeviceThingName: iotThingName, entries: entryList },
};
const listAssociatedInput: StructureShape = {
  type: 'structure',
  required: ['coreDeviceThingName'],
  members: { coreDeviceThingName: iotThingName, maxResults: defaultMaxResults, nextToken: { type: 'string' } },
};
/** A core device is an IoT thing too, so its name must also be one IoT accepts (the Greengrass model has no pattern). */
const registerCoreDeviceInput: StructureShape = {
  type: 'structure',
  required: ['coreDeviceThingName'],
  members: {
    coreDeviceThingName: iotShapes.thingName,
    coreVersion: coreDeviceString,
    platform: coreDeviceString,
    architecture: coreDeviceString,
    runtime: coreDeviceString,
    status: coreDeviceStatus,
    tags: { type: 'map', min: 1, max: 200, key: { type: 'string', min: 1, max: 128 }, value: { type: 'string', max: 256 } },
  },
};

export interface CoreDeviceRegistration {
  coreDeviceThingName: string;
  coreVersion?: string;
  platform?: string;
  architecture?: string;
  runtime?: string;
  status?: CoreDeviceStatus;
  tags?: Record<string, string>;
}

/**
 * Registers a core device the way a nucleus does when it first reports in: the IoT thing is
 * created when missing, and re-registering updates the reported fields.
 */
export function registerCoreDevice(context: LocalCloudContext, registration: unknown): CoreDeviceRecord {
  const input = requireValid(registration ?? {}, registerCoreDeviceInput) as unknown as CoreDeviceRegistration;
  const { state } = context.store;
  const now = context.clock.now();
  if (!state.things.has(input.coreDeviceThingName)) createThing(state, { thingName: input.coreDeviceThingName }, now);
  const record: CoreDeviceRecord = {
    coreDeviceThingName: input.coreDeviceThingName,
    coreVersion: input.coreVersion ?? '2.14.0',
    platform: input.platform ?? 'linux',
    architecture: input.architecture ?? 'amd64',
    runtime: input.runtime ?? 'aws_nucleus_classic',
    status: input.status ?? 'HEALTHY',
    lastStatusUpdateTimestamp: now,
    tags: input.tags ?? {},
  };
  state.coreDevices.set(record.coreDeviceThingName, record);
  return record;
}

type BatchAction = 'associate' | 'disassociate';

/** AWS IoT Greengrass V2 (signing name `greengrass`): core devices and client-device associations. */
export function createGreengrassService(context: LocalCloudContext): EmulatedService {
  const { store, clock, faults } = context;
  const state: LocalCloudState = store.state;
  const invalidToken = () => validationError('OTHER', 'The nextToken is not valid');

  const requireCore = (coreDeviceThingName: string): Stored<CoreDeviceRecord> => {
    const core = state.coreDevices.get(coreDeviceThingName);
    if (!core) throw coreDeviceNotFound(coreDeviceThingName);
    return core;
  };

  const runBatch = (operation: string, action: BatchAction, call: RestCall): ServiceResponse => {
    const body = requireJsonObject(call.request.body, () =>
      validationError('CANNOT_PARSE', 'The request body could not be parsed as a JSON object.'),
    );
    const input = requireValid({ ...body, coreDeviceThingName: call.params['coreDeviceThingName'] }, batchInput) as {
      coreDeviceThingName: string;
      entries: Array<{ thingName: string }>;
    };
    requireCore(input.coreDeviceThingName);
    const now = clock.now();
    const associations = state.associations.in(input.coreDeviceThingName);
    const errorEntries: Array<{ thingName: string; code: string; message: string }> = [];
    for (const { thingName } of input.entries) {
      const fault = faults.entryFault(operation);
      if (fault === 'retryable') {
        const code = faults.random() < 0.5 ? 'ThrottlingException' : 'InternalServerException';
        errorEntries.push({ thingName, code, message: `Injected retryable failure for ${thingName}; retry the entry.` });
      } else if (fault === 'permanent') {
        errorEntries.push({ thingName, code: 'InvalidRequestException', message: `Injected permanent failure for ${thingName}.` });
      } else if (action === 'disassociate') {
        associations.delete(thingName);
      } else if (!state.things.has(thingName)) {
        errorEntries.push({ thingName, code: 'ResourceNotFoundException', message: `Thing ${thingName} does not exist.` });
      } else if (!associations.has(thingName)) {
        associations.set(thingName, { thingName, associatedAt: now });
      }
    }
    return jsonResponse({ errorEntries });
  };

  const routes: RestRoute[] = [
    {
      method: 'GET',
      path: '/greengrass/v2/coreDevices',
      operation: {
        name: 'ListCoreDevices',
        run({ request: { query } }) {
          const input = requireValid(
            {
              thingGroupArn: queryString(query, 'thingGroupArn'),
              status: queryString(query, 'status'),
              maxResults: queryInteger(query, 'maxResults'),
              nextToken: queryString(query, 'nextToken'),
              runtime: queryString(query, 'runtime'),
            },
            listCoreDevicesInput,
          ) as { thingGroupArn?: string; status?: string; maxResults?: number; nextToken?: string; runtime?: string };
          const thingGroup = input.thingGroupArn?.slice(input.thingGroupArn.indexOf(':thinggroup/') + ':thinggroup/'.length);
          const filtered = input.status !== undefined || input.runtime !== undefined || thingGroup !== undefined;
          const page = paginate(
            state.coreDevices,
            input,
            DEFAULT_PAGE_SIZE,
            invalidToken,
            filtered
              ? (core) =>
                  (input.status === undefined || core.status === input.status) &&
                  (input.runtime === undefined || core.runtime === input.runtime) &&
                  (thingGroup === undefined || (state.things.get(core.coreDeviceThingName)?.thingGroups.includes(thingGroup) ?? false))
              : undefined,
          );
          return jsonResponse({
            coreDevices: page.items.map((core) => ({
              coreDeviceThingName: core.coreDeviceThingName,
              status: core.status,
              lastStatusUpdateTimestamp: core.lastStatusUpdateTimestamp / 1000,
              platform: core.platform,
              architecture: core.architecture,
              runtime: core.runtime,
            })),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
    {
      method: 'GET',
      path: '/greengrass/v2/coreDevices/:coreDeviceThingName',
      operation: {
        name: 'GetCoreDevice',
        run({ params }) {
          const { coreDeviceThingName } = requireValid({ coreDeviceThingName: params['coreDeviceThingName'] }, coreDeviceInput) as {
            coreDeviceThingName: string;
          };
          return jsonResponse(describeCoreDevice(requireCore(coreDeviceThingName)));
        },
      },
    },
    {
      method: 'POST',
      path: '/greengrass/v2/coreDevices/:coreDeviceThingName/associateClientDevices',
      operation: {
        name: 'BatchAssociateClientDeviceWithCoreDevice',
        run: (call) => runBatch('BatchAssociateClientDeviceWithCoreDevice', 'associate', call),
      },
    },
    {
      method: 'POST',
      path: '/greengrass/v2/coreDevices/:coreDeviceThingName/disassociateClientDevices',
      operation: {
        name: 'BatchDisassociateClientDeviceFromCoreDevice',
        run: (call) => runBatch('BatchDisassociateClientDeviceFromCoreDevice', 'disassociate', call),
      },
    },
    {
      method: 'GET',
      path: '/greengrass/v2/coreDevices/:coreDeviceThingName/associatedClientDevices',
      operation: {
        name: 'ListClientDevicesAssociatedWithCoreDevice',
        run({ request: { query }, params }) {
          const input = requireValid(
            {
              coreDeviceThingName: params['coreDeviceThingName'],
              maxResults: queryInteger(query, 'maxResults'),
              nextToken: queryString(query, 'nextToken'),
            },
            listAssociatedInput,
          ) as { coreDeviceThingName: string; maxResults?: number; nextToken?: string };
          requireCore(input.coreDeviceThingName);
          const page = paginate(state.associations.in(input.coreDeviceThingName), input, DEFAULT_PAGE_SIZE, invalidToken);
          return jsonResponse({
            // The model gives the list a minimum of one item, so an empty page omits it.
            ...(page.items.length > 0 && {
              associatedClientDevices: page.items.map((association) => ({
                thingName: association.thingName,
                associationTimestamp: association.associatedAt / 1000,
              })),
            }),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
  ];

  const resolve = createOperationResolver(routes, (request) =>
    validationError('UNKNOWN_OPERATION', `No operation matches ${request.method} ${request.path}`),
  );

  return {
    signingName: 'greengrass',
    resolve,
    encodeError(error, requestId) {
      return encodeRestJsonError(toGreengrassError(error), requestId);
    },
    adminRoutes: [
      {
        method: 'POST',
        path: 'greengrass/core-devices',
        handle: (body) => describeCoreDevice(registerCoreDevice(context, body)),
      },
    ],
  };
}

function describeCoreDevice(core: Stored<CoreDeviceRecord>) {
  return {
    coreDeviceThingName: core.coreDeviceThingName,
    coreVersion: core.coreVersion,
    platform: core.platform,
    architecture: core.architecture,
    runtime: core.runtime,
    status: core.status,
    lastStatusUpdateTimestamp: core.lastStatusUpdateTimestamp / 1000,
    ...(Object.keys(core.tags).length > 0 && { tags: core.tags }),
  };
}

function toGreengrassError(error: unknown): RestJsonError {
  if (error instanceof RestJsonError) return error;
  const retryAfter = { 'Retry-After': String(error instanceof InjectedFault ? error.retryAfterSeconds : 1) };
  if (error instanceof InjectedFault && error.kind === 'throttled') {
    return greengrassError('ThrottlingException', error.message, { quotaCode: error.operation, serviceCode: SERVICE_CODE }, retryAfter);
  }
  const message = error instanceof InjectedFault ? error.message : 'An unexpected error occurred.';
  return greengrassError('InternalServerException', message, {}, retryAfter);
}

function requireValid(input: unknown, shape: StructureShape): Record<string, unknown> {
  return requireValidInput(input, shape, (violations) =>
    validationError('FIELD_VALIDATION_FAILED', describeViolations(violations), violations),
  );
}
