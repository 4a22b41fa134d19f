import { createHash } from 'node:crypto';
import type { CertificateStatus, LocalCloudState, Stored, ThingPrincipalType, ThingRecord } from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { headerValue, queryBoolean, queryInteger, queryString } from '../../wire/http-bindings.ts';
import { InjectedFault } from '../../wire/injected-fault.ts';
import { paginate } from '../../wire/pagination.ts';
import { emptyResponse, encodeRestJsonError, jsonResponse, RestJsonError } from '../../wire/rest-json.ts';
import { createOperationResolver, type RestRoute } from '../../wire/routes.ts';
import type { EmulatedService, ServiceRequest } from '../../wire/service.ts';
import { createCertificateAuthority, type KeyAlgorithm } from './certificate-authority.ts';
import { certificateRoutes } from './certificate-routes.ts';
import { iotError } from './errors.ts';
import { policyAttachmentRoutes } from './policy-attachments.ts';
import { planTemplate } from './provisioning-template.ts';
import { registerThing, signPlannedRequest } from './register-thing.ts';
import {
  type AttachmentClock,
  attachPrincipal,
  certificateArn,
  detachPrincipal,
  newCertificateRecord,
  parsePrincipal,
  policyArn,
  policyDocumentProblem,
  principalAttachments,
  renderPrincipal,
  thingArn,
  thingAttachments,
} from './registry.ts';
import { DEFAULT_PAGE_SIZE, invalidToken, parseBody, requireValid } from './requests.ts';
import * as shapes from './shapes.ts';
import { thingRoutes } from './thing-routes.ts';

/** DescribeEndpoint's endpoint types and the host each names, after the account's prefix (IoT developer guide). */
const ENDPOINT_HOSTS: Readonly<Record<string, (prefix: string, region: string) => string>> = {
  'iot:Data': (prefix, region) => `${prefix}.iot.${region}.amazonaws.com`,
  'iot:Data-ATS': (prefix, region) => `${prefix}-ats.iot.${region}.amazonaws.com`,
  'iot:CredentialProvider': (prefix, region) => `${prefix}.credentials.iot.${region}.amazonaws.com`,
  'iot:Jobs': (prefix, region) => `${prefix}.jobs.iot.${region}.amazonaws.com`,
};

export interface IotServiceOptions {
  /** The key pairs CreateKeysAndCertificate makes; RSA 2048 as on AWS unless a benchmark asks for EC. */
  keyAlgorithm?: KeyAlgorithm;
}

/** AWS IoT control plane (signing name `iot`): registry, thing types, certificates, policies, RegisterThing. */
export function createIotService(context: LocalCloudContext, options: IotServiceOptions = {}): EmulatedService {
  const { store, clock, accountId } = context;
  const state: LocalCloudState = store.state;
  const authority = createCertificateAuthority({ keyAlgorithm: options.keyAlgorithm ?? 'rsa-2048' });
  // AWS makes a random prefix per account; one derived from the account id stays the same across restarts.
  const endpointPrefix = `a${createHash('sha256').update(accountId).digest('hex').slice(0, 13)}`;

  const attachmentClock = (): AttachmentClock => ({
    now: clock.now(),
    propagationMs: context.faults.settings().detachPropagationMs,
  });

  const requireThing = (thingName: string): Stored<ThingRecord> => {
    const thing = state.things.get(thingName);
    if (!thing) throw iotError('ResourceNotFoundException', `Thing ${thingName} cannot be found.`);
    return thing;
  };

  const requireCertificate = (certificateId: string) => {
    const certificate = state.certificates.get(normaliseCertificateId(certificateId));
    if (!certificate) throw iotError('ResourceNotFoundException', `The certificate ${certificateId} does not exist`);
    return certificate;
  };

  const describeThingResponse = (thing: Stored<ThingRecord>, region: string) => ({
    defaultClientId: thing.thingName,
    thingName: thing.thingName,
    thingId: thing.thingId,
    thingArn: thingArn(region, accountId, thing.thingName),
    attributes: thing.attributes,
    version: thing.version,
    ...(thing.thingTypeName !== undefined && { thingTypeName: thing.thingTypeName }),
    ...(thing.billingGroupName !== undefined && { billingGroupName: thing.billingGroupName }),
  });

  const routes: RestRoute[] = [
    {
      method: 'POST',
      path: '/things',
      operation: {
        name: 'RegisterThing',
        async run({ request }) {
          const input = requireValid(parseBody(request.body), shapes.registerThingInput) as {
            templateBody: string;
            parameters?: Record<string, string>;
          };
          const plan = planTemplate(input.templateBody, input.parameters ?? {});
          const signed = await signPlannedRequest(authority, plan);
          return jsonResponse(registerThing(context, request.region, plan, signed));
        },
      },
    },
    {
      method: 'GET',
      path: '/things',
      operation: {
        name: 'ListThings',
        run({ request: { query, region } }) {
          const input = requireValid(
            {
              maxResults: queryInteger(query, 'maxResults'),
              nextToken: queryString(query, 'nextToken'),
              attributeName: queryString(query, 'attributeName'),
              attributeValue: queryString(query, 'attributeValue'),
              thingTypeName: queryString(query, 'thingTypeName'),
              usePrefixAttributeValue: queryBoolean(query, 'usePrefixAttributeValue'),
            },
            shapes.listThingsInput,
          ) as {
            maxResults?: number;
            nextToken?: string;
            attributeName?: string;
            attributeValue?: string;
            thingTypeName?: string;
            usePrefixAttributeValue?: boolean;
          };
          const { attributeName, attributeValue, thingTypeName, usePrefixAttributeValue } = input;
          const matchesAttribute = (value: string | undefined) =>
            value !== undefined &&
            (attributeValue === undefined || (usePrefixAttributeValue ? value.startsWith(attributeValue) : value === attributeValue));
          const filtered = attributeName !== undefined || thingTypeName !== undefined;
          const page = paginate(
            state.things,
            input,
            DEFAULT_PAGE_SIZE,
            invalidToken,
            filtered
              ? (thing) =>
                  (thingTypeName === undefined || thing.thingTypeName === thingTypeName) &&
                  (attributeName === undefined || matchesAttribute(thing.attributes[attributeName]))
              : undefined,
          );
          return jsonResponse({
            things: page.items.map((thing) => ({
              thingName: thing.thingName,
              thingArn: thingArn(region, accountId, thing.thingName),
              attributes: thing.attributes,
              version: thing.version,
              ...(thing.thingTypeName !== undefined && { thingTypeName: thing.thingTypeName }),
            })),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
    {
      method: 'GET',
      path: '/things/:thingName',
      operation: {
        name: 'DescribeThing',
        run({ request, params }) {
          const { thingName } = requireValid({ thingName: params['thingName'] }, shapes.thingInput) as { thingName: string };
          return jsonResponse(describeThingResponse(requireThing(thingName), request.region));
        },
      },
    },
    {
      method: 'DELETE',
      path: '/things/:thingName',
      operation: {
        name: 'DeleteThing',
        run({ request, params }) {
          const { thingName, expectedVersion } = requireValid(
            { thingName: params['thingName'], expectedVersion: queryInteger(request.query, 'expectedVersion') },
            shapes.deleteThingInput,
          ) as { thingName: string; expectedVersion?: number };
          const thing = state.things.get(thingName);
          // DeleteThing succeeds when the thing does not exist (model documentation).
          if (!thing) return emptyResponse();
          if (expectedVersion !== undefined && expectedVersion !== thing.version) {
            throw iotError('VersionConflictException', `The version for thing ${thingName} does not match the expected version.`);
          }
          if (!thingAttachments(state, thingName, attachmentClock()).isEmpty()) {
            throw iotError('InvalidRequestException', `Cannot delete. Thing ${thingName} is still attached to one or more principals`);
          }
          state.things.delete(thingName);
          return emptyResponse();
        },
      },
    },
    {
      method: 'PUT',
      path: '/things/:thingName/principals',
      operation: {
        name: 'AttachThingPrincipal',
        run({ request, params }) {
          const input = requireValid(
            {
              thingName: params['thingName'],
              principal: headerValue(request.headers, 'x-amzn-principal'),
              thingPrincipalType: queryString(request.query, 'thingPrincipalType'),
            },
            shapes.thingPrincipalInput,
          ) as { thingName: string; principal: string; thingPrincipalType?: ThingPrincipalType };
          const principal = parsePrincipal(input.principal, accountId);
          requireThing(input.thingName);
          if (principal.isCertificate) requireCertificate(principal.key);
          attachPrincipal(state, input.thingName, principal, input.thingPrincipalType ?? 'NON_EXCLUSIVE_THING', attachmentClock());
          return emptyResponse();
        },
      },
    },
    {
      method: 'DELETE',
      path: '/things/:thingName/principals',
      operation: {
        name: 'DetachThingPrincipal',
        run({ request, params }) {
          const input = requireValid(
            { thingName: params['thingName'], principal: headerValue(request.headers, 'x-amzn-principal') },
            shapes.thingPrincipalInput,
          ) as { thingName: string; principal: string };
          const principal = parsePrincipal(input.principal, accountId);
          requireThing(input.thingName);
          if (!detachPrincipal(state, input.thingName, principal.key, attachmentClock())) {
            throw iotError('ResourceNotFoundException', `Principal ${input.principal} is not attached to thing ${input.thingName}`);
          }
          return emptyResponse();
        },
      },
    },
    {
      method: 'GET',
      path: '/things/:thingName/principals',
      operation: {
        name: 'ListThingPrincipals',
        run({ request, params }) {
          const page = listThingPrincipals(request, params);
          return jsonResponse({
            principals: page.items.map((attachment) => renderPrincipal(request.region, accountId, attachment.principal)),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
    {
      method: 'GET',
      path: '/things/:thingName/principals-v2',
      operation: {
        name: 'ListThingPrincipalsV2',
        run({ request, params }) {
          const page = listThingPrincipals(request, params, queryString(request.query, 'thingPrincipalType'));
          return jsonResponse({
            thingPrincipalObjects: page.items.map((attachment) => ({
              principal: renderPrincipal(request.region, accountId, attachment.principal),
              thingPrincipalType: attachment.thingPrincipalType,
            })),
            ...(page.nextToken !== undefined && { nextToken: page.nextToken }),
          });
        },
      },
    },
    {
      method: 'POST',
      path: '/keys-and-certificate',
      operation: {
        name: 'CreateKeysAndCertificate',
        async run({ request }) {
          const { setAsActive } = requireValid(
            { setAsActive: queryBoolean(request.query, 'setAsActive') },
            shapes.createKeysAndCertificateInput,
          ) as { setAsActive?: boolean };
          const issued = await authority.createKeysAndCertificate();
          state.certificates.set(
            issued.certificateId,
            newCertificateRecord(issued, setAsActive ? 'ACTIVE' : 'INACTIVE', clock.now(), issued.caCertificateId),
          );
          return jsonResponse({
            certificateArn: certificateArn(request.region, accountId, issued.certificateId),
            certificateId: issued.certificateId,
            certificatePem: issued.certificatePem,
            keyPair: { PublicKey: issued.publicKey, PrivateKey: issued.privateKey },
          });
        },
      },
    },
    {
      method: 'GET',
      path: '/certificates/:certificateId',
      operation: {
        name: 'DescribeCertificate',
        run({ request, params }) {
          const { certificateId } = requireValid({ certificateId: params['certificateId'] }, shapes.certificateInput) as {
            certificateId: string;
          };
          const certificate = requireCertificate(certificateId);
          return jsonResponse({
            certificateDescription: {
              certificateArn: certificateArn(request.region, accountId, certificate.certificateId),
              certificateId: certificate.certificateId,
              ...(certificate.caCertificateId !== undefined && { caCertificateId: certificate.caCertificateId }),
              status: certificate.status,
              certificatePem: certificate.certificatePem,
              ownedBy: accountId,
              creationDate: certificate.createdAt / 1000,
              lastModifiedDate: certificate.lastModifiedAt / 1000,
              customerVersion: certificate.customerVersion,
              generationId: certificate.generationId,
              validity: { notBefore: certificate.notBefore / 1000, notAfter: certificate.notAfter / 1000 },
              certificateMode: certificate.certificateMode,
            },
          });
        },
      },
    },
    {
      method: 'PUT',
      path: '/certificates/:certificateId',
      operation: {
        name: 'UpdateCertificate',
        run({ request, params }) {
          const { certificateId, newStatus } = requireValid(
            { certificateId: params['certificateId'], newStatus: queryString(request.query, 'newStatus') },
            shapes.updateCertificateInput,
          ) as { certificateId: string; newStatus: CertificateStatus };
          if (newStatus === 'PENDING_TRANSFER' || newStatus === 'PENDING_ACTIVATION') {
            throw iotError('InvalidRequestException', `The status ${newStatus} is used internally by IoT and cannot be set`);
          }
          const certificate = requireCertificate(certificateId);
          if (certificate.status === 'REVOKED' && newStatus !== 'REVOKED') {
            throw iotError('CertificateStateException', 'A revoked certificate cannot change status');
          }
          if (certificate.status !== newStatus) {
            state.certificates.set(certificate.certificateId, {
              ...certificate,
              status: newStatus,
              lastModifiedAt: clock.now(),
              customerVersion: certificate.customerVersion + 1,
            });
          }
          return emptyResponse();
        },
      },
    },
    {
      method: 'DELETE',
      path: '/certificates/:certificateId',
      operation: {
        name: 'DeleteCertificate',
        run({ request, params }) {
          const { certificateId, forceDelete } = requireValid(
            { certificateId: params['certificateId'], forceDelete: queryBoolean(request.query, 'forceDelete') },
            shapes.certificateInput,
          ) as { certificateId: string; forceDelete?: boolean };
          const certificate = requireCertificate(certificateId);
          if (certificate.status === 'ACTIVE') {
            throw iotError('CertificateStateException', 'Certificate must be deactivated (not ACTIVE) before deletion.');
          }
          if (principalAttachments(state, certificate.certificateId, attachmentClock()).length > 0) {
            throw iotError('DeleteConflictException', 'Things must be detached before deletion.');
          }
          if (certificate.policyNames.length > 0 && !forceDelete) {
            throw iotError('DeleteConflictException', 'Certificate policies must be detached before deletion.');
          }
          state.certificates.delete(certificate.certificateId);
          return emptyResponse();
        },
      },
    },
    {
      method: 'POST',
      path: '/policies/:policyName',
      operation: {
        name: 'CreatePolicy',
        run({ request, params }) {
          const input = requireValid({ ...parseBody(request.body), policyName: params['policyName'] }, shapes.createPolicyInput) as {
            policyName: string;
            policyDocument: string;
          };
          const problem = policyDocumentProblem(input.policyDocument);
          if (problem !== undefined) throw iotError('MalformedPolicyException', problem);
          const arn = policyArn(request.region, accountId, input.policyName);
          if (state.policies.has(input.policyName)) {
            throw iotError('ResourceAlreadyExistsException', `Policy ${input.policyName} already exists.`, {
              resourceId: input.policyName,
              resourceArn: arn,
            });
          }
          state.policies.set(input.policyName, {
            policyName: input.policyName,
            policyDocument: input.policyDocument,
            createdAt: clock.now(),
          });
          return jsonResponse({ policyName: input.policyName, policyArn: arn, policyDocument: input.policyDocument, policyVersionId: '1' });
        },
      },
    },
    {
      method: 'GET',
      path: '/endpoint',
      operation: {
        name: 'DescribeEndpoint',
        run({ request }) {
          const { endpointType = 'iot:Data' } = requireValid(
            { endpointType: queryString(request.query, 'endpointType') },
            shapes.describeEndpointInput,
          ) as {
            endpointType?: string;
          };
          const host = ENDPOINT_HOSTS[endpointType];
          if (!host)
            throw iotError(
              'InvalidRequestException',
              `Endpoint type ${endpointType} is not one of ${Object.keys(ENDPOINT_HOSTS).join(', ')}`,
            );
          return jsonResponse({ endpointAddress: host(endpointPrefix, request.region) });
        },
      },
    },
    ...thingRoutes(context, attachmentClock),
    ...policyAttachmentRoutes(context),
    ...certificateRoutes(context, authority),
  ];

  function listThingPrincipals(request: ServiceRequest, params: Record<string, string>, thingPrincipalType?: string) {
    const input = requireValid(
      {
        thingName: params['thingName'],
        maxResults: queryInteger(request.query, 'maxResults'),
        nextToken: queryString(request.query, 'nextToken'),
        thingPrincipalType,
      },
      shapes.listThingPrincipalsInput,
    ) as { thingName: string; maxResults?: number; nextToken?: string; thingPrincipalType?: ThingPrincipalType };
    if (!state.things.has(input.thingName)) {
      throw iotError(
        'ResourceNotFoundException',
        `Failed to list principals for thing ${input.thingName} because the thing does not exist in your account`,
      );
    }
    const attachments = thingAttachments(state, input.thingName, attachmentClock());
    return paginate(
      attachments,
      input,
      DEFAULT_PAGE_SIZE,
      invalidToken,
      thingPrincipalType === undefined ? undefined : (attachment) => attachment.thingPrincipalType === thingPrincipalType,
    );
  }

  const resolve = createOperationResolver(routes, (request) =>
    iotError('UnknownOperationException', `No operation matches ${request.method} ${request.path}`),
  );

  return {
    signingName: 'iot',
    signingNameAliases: ['execute-api'],
    resolve,
    encodeError(error, requestId) {
      return encodeRestJsonError(toIotError(error), requestId);
    },
  };
}

function toIotError(error: unknown): RestJsonError {
  if (error instanceof RestJsonError) return error;
  if (error instanceof InjectedFault) {
    switch (error.kind) {
      case 'throttled':
        return iotError('ThrottlingException', error.message);
      case 'unavailable':
        return iotError('ServiceUnavailableException', error.message);
      default:
        return iotError('InternalFailureException', error.message);
    }
  }
  return iotError('InternalFailureException', 'An unexpected error occurred.');
}

function normaliseCertificateId(certificateId: string): string {
  return certificateId.replace(/^0x/, '').toLowerCase();
}
