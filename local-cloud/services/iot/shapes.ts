import type { IntegerShape, MapShape, StringShape, StructureShape } from '../../wire/validation.ts';

/** Constraints hand-written from the IoT model (iot-2015-05-28) for the emulated operations. */

export const thingName: StringShape = { type: 'string', min: 1, max: 128, pattern: '[a-zA-Z0-9:_-]+' };
export const thingTypeName: StringShape = thingName;
export const billingGroupName: StringShape = thingName;
const thingGroupName: StringShape = thingName;
export const thingPrincipalType: StringShape = { type: 'string', enum: ['EXCLUSIVE_THING', 'NON_EXCLUSIVE_THING'] };
export const attributeName: StringShape = { type: 'string', max: 128, pattern: '[a-zA-Z0-9_.,@/:#-]+' };
export const attributeValue: StringShape = { type: 'string', max: 800, pattern: '[a-zA-Z0-9_.,@/:#=\\[\\]-]*' };
export const attributes: MapShape = { type: 'map', key: attributeName, value: attributeValue };
export const certificateId: StringShape = { type: 'string', min: 64, max: 64, pattern: '(0x)?[a-fA-F0-9]+' };
const certificateStatus: StringShape = {
  type: 'string',
  enum: ['ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_TRANSFER', 'REGISTER_INACTIVE', 'PENDING_ACTIVATION'],
};
export const policyName: StringShape = { type: 'string', min: 1, max: 128, pattern: '[\\w+=,.@-]+' };
const registryMaxResults: IntegerShape = { type: 'integer', min: 1, max: 250 };
const nextToken: StringShape = { type: 'string' };
const anyString: StringShape = { type: 'string' };

export const registerThingInput: StructureShape = {
  type: 'structure',
  required: ['templateBody'],
  members: {
    templateBody: { type: 'string', min: 0, max: 10240 },
    parameters: {
      type: 'map',
      key: { type: 'string', min: 0, max: 2048 },
      value: { type: 'string', min: 0, max: 4096 },
    },
  },
};

export const thingPrincipalInput: StructureShape = {
  type: 'structure',
  required: ['thingName', 'principal'],
  members: { thingName, principal: anyString, thingPrincipalType },
};

export const thingInput: StructureShape = { type: 'structure', required: ['thingName'], members: { thingName } };

export const deleteThingInput: StructureShape = {
  type: 'structure',
  required: ['thingName'],
  members: { thingName, expectedVersion: { type: 'integer' } },
};

export const listThingPrincipalsInput: StructureShape = {
  type: 'structure',
  required: ['thingName'],
  members: { thingName, maxResults: registryMaxResults, nextToken, thingPrincipalType },
};

export const listThingsInput: StructureShape = {
  type: 'structure',
  members: {
    maxResults: registryMaxResults,
    nextToken,
    attributeName,
    attributeValue,
    thingTypeName,
    usePrefixAttributeValue: { type: 'boolean' },
  },
};

export const createKeysAndCertificateInput: StructureShape = {
  type: 'structure',
  members: { setAsActive: { type: 'boolean' } },
};

export const certificateInput: StructureShape = {
  type: 'structure',
  required: ['certificateId'],
  members: { certificateId, forceDelete: { type: 'boolean' } },
};

export const updateCertificateInput: StructureShape = {
  type: 'structure',
  required: ['certificateId', 'newStatus'],
  members: { certificateId, newStatus: certificateStatus },
};

export const createPolicyInput: StructureShape = {
  type: 'structure',
  required: ['policyName', 'policyDocument'],
  members: {
    policyName,
    policyDocument: { type: 'string', min: 0, max: 404600 },
    tags: {
      type: 'list',
      member: {
        type: 'structure',
        required: ['Key'],
        members: {
          Key: { type: 'string', min: 1, max: 128, pattern: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*' },
          Value: { type: 'string', min: 0, max: 256 },
        },
      },
    },
  },
};

/** Properties of an `AWS::IoT::Thing` template resource, validated like CreateThing's input. */
export const templateThingProperties: StructureShape = {
  type: 'structure',
  required: ['ThingName'],
  members: {
    ThingName: thingName,
    ThingTypeName: thingTypeName,
    AttributePayload: attributes,
    ThingGroups: { type: 'list', member: thingGroupName },
    BillingGroup: billingGroupName,
  },
};
