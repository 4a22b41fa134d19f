import type { IntegerShape, ListShape, MapShape, StringShape, StructureShape } from '../../wire/validation.ts';

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

const pageSize: IntegerShape = { type: 'integer', min: 1, max: 250 };
/** The older list calls page with `marker`/`pageSize` instead of `nextToken`/`maxResults`. */
const marker: StringShape = { type: 'string', max: 1024, pattern: '[A-Za-z0-9+/]+={0,2}' };
const certificatePem: StringShape = { type: 'string', min: 1, max: 65536, pattern: '[\\s\\S]*' };
const attributePayload: StructureShape = { type: 'structure', members: { attributes, merge: { type: 'boolean' } } };
const tags: ListShape = {
  type: 'list',
  member: {
    type: 'structure',
    required: ['Key'],
    members: {
      Key: { type: 'string', min: 1, max: 128, pattern: '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$' },
      Value: { type: 'string', min: 0, max: 256 },
    },
  },
};

export const principalInput: StructureShape = {
  type: 'structure',
  required: ['principal'],
  members: { principal: anyString, nextToken, maxResults: registryMaxResults, thingPrincipalType },
};

export const policyTargetInput: StructureShape = {
  type: 'structure',
  required: ['policyName', 'target'],
  members: { policyName, target: anyString },
};

export const listAttachedPoliciesInput: StructureShape = {
  type: 'structure',
  required: ['target'],
  members: { target: anyString, recursive: { type: 'boolean' }, marker, pageSize },
};

export const listPrincipalPoliciesInput: StructureShape = {
  type: 'structure',
  required: ['principal'],
  members: { principal: anyString, marker, pageSize, ascendingOrder: { type: 'boolean' } },
};

export const listTargetsForPolicyInput: StructureShape = {
  type: 'structure',
  required: ['policyName'],
  members: { policyName, marker, pageSize },
};

export const createThingInput: StructureShape = {
  type: 'structure',
  required: ['thingName'],
  members: { thingName, thingTypeName, attributePayload, billingGroupName },
};

export const updateThingInput: StructureShape = {
  type: 'structure',
  required: ['thingName'],
  members: { thingName, thingTypeName, attributePayload, expectedVersion: { type: 'integer' }, removeThingType: { type: 'boolean' } },
};

export const createThingTypeInput: StructureShape = {
  type: 'structure',
  required: ['thingTypeName'],
  members: {
    thingTypeName,
    thingTypeProperties: {
      type: 'structure',
      members: {
        thingTypeDescription: { type: 'string', max: 2028, pattern: '[\\p{Graph}\\x20]*' },
        searchableAttributes: { type: 'list', member: attributeName },
        mqtt5Configuration: {
          type: 'structure',
          members: {
            propagatingAttributes: {
              type: 'list',
              member: {
                type: 'structure',
                members: {
                  userPropertyKey: { type: 'string', max: 128, pattern: '[a-zA-Z0-9:$.]+' },
                  thingAttribute: attributeName,
                  connectionAttribute: { type: 'string', max: 128, pattern: '[a-zA-Z0-9:.]+' },
                },
              },
            },
          },
        },
      },
    },
    tags,
  },
};

export const thingTypeInput: StructureShape = {
  type: 'structure',
  required: ['thingTypeName'],
  members: { thingTypeName, undoDeprecate: { type: 'boolean' } },
};

export const listCertificatesInput: StructureShape = {
  type: 'structure',
  members: { pageSize, marker, ascendingOrder: { type: 'boolean' } },
};

export const createCertificateFromCsrInput: StructureShape = {
  type: 'structure',
  required: ['certificateSigningRequest'],
  members: { certificateSigningRequest: { type: 'string', min: 1, max: 4096, pattern: '[\\s\\S]*' }, setAsActive: { type: 'boolean' } },
};

export const registerCertificateInput: StructureShape = {
  type: 'structure',
  required: ['certificatePem'],
  members: { certificatePem, caCertificatePem: certificatePem, setAsActive: { type: 'boolean' }, status: certificateStatus },
};

export const describeEndpointInput: StructureShape = {
  type: 'structure',
  members: { endpointType: { type: 'string', max: 128, pattern: '[\\s\\S]*' } },
};

export const principalPolicyInput: StructureShape = {
  type: 'structure',
  required: ['policyName', 'principal'],
  members: { policyName, principal: anyString },
};
