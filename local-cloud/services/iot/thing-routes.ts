import { randomUUID } from 'node:crypto';
import type { LocalCloudState, Stored, ThingPrincipalType, ThingRecord, ThingTypeRecord } from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { headerValue, queryInteger, queryString } from '../../wire/http-bindings.ts';
import { listPages, paginate } from '../../wire/pagination.ts';
import { emptyResponse, jsonResponse } from '../../wire/rest-json.ts';
import type { RestRoute } from '../../wire/routes.ts';
import type { ServiceRequest } from '../../wire/service.ts';
import { iotError } from './errors.ts';
import {
  type AttachmentClock,
  assertAttributeLimit,
  assertThingTypeUsable,
  createThing,
  parsePrincipal,
  principalAttachments,
  thingArn,
  thingTypeArn,
} from './registry.ts';
import { DEFAULT_PAGE_SIZE, invalidToken, parseBody, requireValid } from './requests.ts';
import * as shapes from './shapes.ts';

/** AWS lets a deprecated thing type be deleted five minutes after its deprecation (IoT developer guide, "Thing types"). */
const DELETE_AFTER_DEPRECATION_MS = 5 * 60_000;

interface AttributePayload {
  attributes?: Record<string, string>;
  merge?: boolean;
}

/** CreateThing, UpdateThing, the thing-type calls and the things of a principal. */
export function thingRoutes(context: LocalCloudContext, attachmentClock: () => AttachmentClock): RestRoute[] {
  const { store, clock, accountId } = context;
  const state = store.state;

  const requireThingType = (thingTypeName: string): Stored<ThingTypeRecord> => {
    const thingType = state.thingTypes.get(thingTypeName);
    if (!thingType) throw iotError('ResourceNotFoundException', `Thing type ${thingTypeName} does not exist`);
    return thingType;
  };
  const listPrincipalThings = (request: ServiceRequest, thingPrincipalType?: string) => {
    const input = requireValid(
      {
        principal: headerValue(request.headers, 'x-amzn-principal'),
        nextToken: queryString(request.query, 'nextToken'),
        maxResults: queryInteger(request.query, 'maxResults'),
        thingPrincipalType,
      },
      shapes.principalInput,
    ) as { principal: string; nextToken?: string; maxResults?: number; thingPrincipalType?: ThingPrincipalType };
    const principal = parsePrincipal(input.principal, accountId);
    if (principal.isCertificate && !state.certificates.has(principal.key)) {
      throw iotError('ResourceNotFoundException', `The certificate ${input.principal} does not exist`);
    }
    const attachments = principalAttachments(state, principal.key, attachmentClock()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return paginate(
      listPages(attachments, ([thingName]) => thingName),
      input,
      DEFAULT_PAGE_SIZE,
      invalidToken,
      input.thingPrincipalType === undefined ? undefined : ([, attachment]) => attachment.thingPrincipalType === input.thingPrincipalType,
    );
  };

  return [
    {
      method: 'POST',
      path: '/things/:thingName',
      operation: {
        name: 'CreateThing',
        run({ request, params }) {
          const input = requireValid({ ...parseBody(request.body), thingName: params['thingName'] }, shapes.createThingInput) as {
            thingName: string;
            thingTypeName?: string;
            attributePayload?: AttributePayload;
            billingGroupName?: string;
          };
          const attributes = input.attributePayload?.attributes ?? {};
          const existing = state.things.get(input.thingName);
          const response = (thing: Stored<ThingRecord>) =>
            jsonResponse({
              thingName: thing.thingName,
              thingArn: thingArn(request.region, accountId, thing.thingName),
              thingId: thing.thingId,
            });
          if (existing) {
            // The same name and configuration again is a success; another configuration is a conflict (model documentation).
            const same =
              existing.thingTypeName === input.thingTypeName &&
              existing.billingGroupName === input.billingGroupName &&
              sameAttributes(existing.attributes, attributes);
            if (same) return response(existing);
            throw iotError('ResourceAlreadyExistsException', `Thing ${input.thingName} already exists with a different configuration`, {
              resourceId: existing.thingId,
              resourceArn: thingArn(request.region, accountId, existing.thingName),
            });
          }
          if (input.thingTypeName !== undefined) assertThingTypeUsable(state, input.thingTypeName);
          assertAttributeLimit(input.thingName, attributes, input.thingTypeName);
          const thing = createThing(
            state,
            {
              thingName: input.thingName,
              attributes,
              ...(input.thingTypeName !== undefined && { thingTypeName: input.thingTypeName }),
              ...(input.billingGroupName !== undefined && { billingGroupName: input.billingGroupName }),
            },
            clock.now(),
          );
          return response(thing);
        },
      },
    },
    {
      method: 'PATCH',
      path: '/things/:thingName',
      operation: {
        name: 'UpdateThing',
        run({ request, params }) {
          const input = requireValid({ ...parseBody(request.body), thingName: params['thingName'] }, shapes.updateThingInput) as {
            thingName: string;
            thingTypeName?: string;
            attributePayload?: AttributePayload;
            expectedVersion?: number;
            removeThingType?: boolean;
          };
          if (input.removeThingType === true && input.thingTypeName !== undefined) {
            throw iotError('InvalidRequestException', 'Cannot give a thingTypeName and removeThingType true together');
          }
          const thing = state.things.get(input.thingName);
          if (!thing) throw iotError('ResourceNotFoundException', `Thing ${input.thingName} cannot be found.`);
          if (input.expectedVersion !== undefined && input.expectedVersion !== thing.version) {
            throw iotError('VersionConflictException', `The version for thing ${input.thingName} does not match the expected version.`);
          }
          if (input.thingTypeName !== undefined && input.thingTypeName !== thing.thingTypeName)
            assertThingTypeUsable(state, input.thingTypeName);
          const thingTypeName = input.removeThingType === true ? undefined : (input.thingTypeName ?? thing.thingTypeName);
          const attributes = updatedAttributes(thing.attributes, input.attributePayload);
          assertAttributeLimit(thing.thingName, attributes, thingTypeName);
          const { thingTypeName: _replaced, ...untyped } = thing;
          state.things.set(thing.thingName, {
            ...untyped,
            ...(thingTypeName !== undefined && { thingTypeName }),
            attributes,
            version: thing.version + 1,
          });
          return emptyResponse();
        },
      },
    },
    {
      method: 'GET',
      path: '/principals/things',
      operation: {
        name: 'ListPrincipalThings',
        run({ request }) {
          const page = listPrincipalThings(request);
          return jsonResponse({
            things: page.items.map(([thingName]) => thingName),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
    {
      method: 'GET',
      path: '/principals/things-v2',
      operation: {
        name: 'ListPrincipalThingsV2',
        run({ request }) {
          const page = listPrincipalThings(request, queryString(request.query, 'thingPrincipalType'));
          return jsonResponse({
            principalThingObjects: page.items.map(([thingName, attachment]) => ({
              thingName,
              thingPrincipalType: attachment.thingPrincipalType,
            })),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
    {
      method: 'POST',
      path: '/thing-types/:thingTypeName',
      operation: {
        name: 'CreateThingType',
        run({ request, params }) {
          const input = requireValid(
            { ...parseBody(request.body), thingTypeName: params['thingTypeName'] },
            shapes.createThingTypeInput,
          ) as {
            thingTypeName: string;
            thingTypeProperties?: Record<string, unknown>;
          };
          const properties = input.thingTypeProperties ?? {};
          const arn = thingTypeArn(request.region, accountId, input.thingTypeName);
          const existing = state.thingTypes.get(input.thingTypeName);
          if (existing && JSON.stringify(existing.thingTypeProperties) !== JSON.stringify(properties)) {
            // The same name and configuration again is a success; another configuration is a conflict (model documentation).
            throw iotError(
              'ResourceAlreadyExistsException',
              `Thing type ${input.thingTypeName} already exists with a different configuration`,
              {
                resourceId: existing.thingTypeId,
                resourceArn: arn,
              },
            );
          }
          const thingType = existing ?? {
            thingTypeName: input.thingTypeName,
            thingTypeId: randomUUID(),
            thingTypeProperties: properties,
            deprecated: false,
            createdAt: clock.now(),
          };
          if (!existing) {
            state.thingTypes.set(thingType.thingTypeName, thingType);
          }
          return jsonResponse({ thingTypeName: thingType.thingTypeName, thingTypeArn: arn, thingTypeId: thingType.thingTypeId });
        },
      },
    },
    {
      method: 'GET',
      path: '/thing-types/:thingTypeName',
      operation: {
        name: 'DescribeThingType',
        run({ request, params }) {
          const { thingTypeName } = requireValid({ thingTypeName: params['thingTypeName'] }, shapes.thingTypeInput) as {
            thingTypeName: string;
          };
          const thingType = requireThingType(thingTypeName);
          return jsonResponse({
            thingTypeName,
            thingTypeId: thingType.thingTypeId,
            thingTypeArn: thingTypeArn(request.region, accountId, thingTypeName),
            thingTypeProperties: thingType.thingTypeProperties,
            thingTypeMetadata: {
              deprecated: thingType.deprecated,
              ...(thingType.deprecatedAt !== undefined && { deprecationDate: thingType.deprecatedAt / 1000 }),
              creationDate: thingType.createdAt / 1000,
            },
          });
        },
      },
    },
    {
      method: 'POST',
      path: '/thing-types/:thingTypeName/deprecate',
      operation: {
        name: 'DeprecateThingType',
        run({ request, params }) {
          const { thingTypeName, undoDeprecate } = requireValid(
            { ...parseBody(request.body), thingTypeName: params['thingTypeName'] },
            shapes.thingTypeInput,
          ) as { thingTypeName: string; undoDeprecate?: boolean };
          const { deprecatedAt: _dropped, ...thingType } = requireThingType(thingTypeName);
          if (undoDeprecate === true) state.thingTypes.set(thingTypeName, { ...thingType, deprecated: false });
          else if (!thingType.deprecated)
            state.thingTypes.set(thingTypeName, { ...thingType, deprecated: true, deprecatedAt: clock.now() });
          return emptyResponse();
        },
      },
    },
    {
      method: 'DELETE',
      path: '/thing-types/:thingTypeName',
      operation: {
        name: 'DeleteThingType',
        run({ params }) {
          const { thingTypeName } = requireValid({ thingTypeName: params['thingTypeName'] }, shapes.thingTypeInput) as {
            thingTypeName: string;
          };
          const thingType = requireThingType(thingTypeName);
          if (!thingType.deprecated || thingType.deprecatedAt === undefined) {
            throw iotError('InvalidRequestException', `Thing type ${thingTypeName} must be deprecated before it can be deleted`);
          }
          if (clock.now() < thingType.deprecatedAt + DELETE_AFTER_DEPRECATION_MS) {
            throw iotError('InvalidRequestException', `Thing type ${thingTypeName} can be deleted 5 minutes after its deprecation`);
          }
          if (hasThingsOfType(state, thingTypeName)) {
            throw iotError('InvalidRequestException', `Thing type ${thingTypeName} still has things associated with it`);
          }
          state.thingTypes.delete(thingTypeName);
          return emptyResponse();
        },
      },
    },
  ];
}

/** UpdateThing's attributes: replaced, or with `merge` merged, where an empty value removes the attribute. */
function updatedAttributes(current: Stored<Record<string, string>>, payload: AttributePayload | undefined): Record<string, string> {
  if (payload?.attributes === undefined) return { ...current };
  const merged: Record<string, string> = payload.merge === true ? { ...current } : {};
  for (const [name, value] of Object.entries(payload.attributes)) {
    if (value === '') delete merged[name];
    else merged[name] = value;
  }
  return merged;
}

function sameAttributes(left: Readonly<Record<string, string>>, right: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((key) => left[key] === right[key]);
}

function hasThingsOfType(state: LocalCloudState, thingTypeName: string): boolean {
  for (const thing of state.things.values()) if (thing.thingTypeName === thingTypeName) return true;
  return false;
}
