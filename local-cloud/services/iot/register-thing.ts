import { createHash } from 'node:crypto';
import type { CertificateRecord, LocalCloudState, Stored, ThingRecord } from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { RestJsonError } from '../../wire/rest-json.ts';
import {
  type CertificateAuthority,
  CertificateRequestError,
  type IssuedCertificate,
  type ParsedCertificate,
  parseCertificate,
} from './certificate-authority.ts';
import { iotError } from './errors.ts';
import type { CertificateResource, OverrideSettings, ProvisioningPlan, ThingResource } from './provisioning-template.ts';
import {
  type AttachmentClock,
  assertAttachable,
  assertAttributeLimit,
  assertThingTypeUsable,
  attachPrincipal,
  certificateArn,
  createThing,
  newCertificateRecord,
  policyArn,
  thingArn,
} from './registry.ts';

export interface RegisterThingResult {
  certificatePem?: string;
  resourceArns: Record<string, string>;
}

/**
 * Signs the plan's CSR, if it has one: the one asynchronous step of RegisterThing, done before the
 * synchronous rest so that no other request can interleave with its checks and changes.
 */
export async function signPlannedRequest(authority: CertificateAuthority, plan: ProvisioningPlan): Promise<IssuedCertificate | undefined> {
  const source = plan.certificate?.source;
  if (source?.kind !== 'csr') return undefined;
  try {
    return await authority.signRequest(source.certificateSigningRequest);
  } catch (error) {
    if (error instanceof CertificateRequestError)
      throw iotError('InvalidRequestException', `CertificateSigningRequest is not valid: ${error.message}`);
    throw error;
  }
}

/**
 * Carries out a plan all-or-nothing: every check runs before the first change, and the whole
 * call is synchronous, so no other request can interleave. `signed` is the plan's CSR, signed.
 */
export function registerThing(
  context: LocalCloudContext,
  region: string,
  plan: ProvisioningPlan,
  signed: IssuedCertificate | undefined,
): RegisterThingResult {
  const { state } = context.store;
  const now = context.clock.now();
  const clock: AttachmentClock = { now, propagationMs: context.faults.settings().detachPropagationMs };
  const { accountId } = context;

  const existingThing = plan.thing && state.things.get(plan.thing.properties.ThingName);
  if (existingThing && plan.thing && hasFail(plan.thing.overrides)) {
    throw registrationFailure(`Thing ${existingThing.thingName} already exists and its OverrideSettings say FAIL`);
  }
  const thingUpdate = existingThing && plan.thing && overriddenProperties(existingThing, plan.thing);
  if (plan.thing) {
    const { thingName, attributes = {}, thingTypeName } = existingThing ? { ...existingThing, ...thingUpdate } : newThing(plan.thing);
    // A thing type a thing already has stays usable when deprecated; a new association needs a live one.
    const newTypeName = existingThing ? thingUpdate?.thingTypeName : thingTypeName;
    if (newTypeName !== undefined) {
      try {
        assertThingTypeUsable(state, newTypeName);
      } catch (error) {
        throw error instanceof RestJsonError ? registrationFailure(error.message) : error;
      }
    }
    assertAttributeLimit(thingName, attributes, thingTypeName);
  }
  const certificate = plan.certificate && prepareCertificate(state, plan.certificate, signed);
  if (certificate?.existing && hasFail(plan.certificate?.overrides)) {
    throw registrationFailure(`Certificate ${certificate.parsed.certificateId} already exists and its OverrideSettings say FAIL`);
  }
  const policyName = plan.policy && resolvePolicyName(state, plan.policy.source);
  if (plan.thing && certificate) {
    try {
      assertAttachable(
        state,
        plan.thing.properties.ThingName,
        { key: certificate.parsed.certificateId, isCertificate: true },
        'NON_EXCLUSIVE_THING',
        clock,
      );
    } catch (error) {
      throw error instanceof RestJsonError ? registrationFailure(error.message) : error;
    }
  }

  const resourceArns: Record<string, string> = {};
  const result: RegisterThingResult = { resourceArns };
  if (plan.thing) {
    if (existingThing && thingUpdate)
      state.things.set(existingThing.thingName, { ...existingThing, ...thingUpdate, version: existingThing.version + 1 });
    const thing = existingThing ?? createThing(state, newThing(plan.thing), now);
    resourceArns[plan.thing.logicalId] = thingArn(region, accountId, thing.thingName);
  }
  if (plan.policy?.source.kind === 'document' && policyName && !state.policies.has(policyName)) {
    state.policies.set(policyName, { policyName, policyDocument: plan.policy.source.policyDocument, createdAt: now });
  }
  if (plan.policy?.source.kind === 'document' && policyName) {
    resourceArns[plan.policy.logicalId] = policyArn(region, accountId, policyName);
  }
  if (plan.certificate && certificate) {
    const base = certificate.existing ?? newCertificateRecord(certificate.parsed, plan.certificate.status, now, signed?.caCertificateId);
    const statusReplaced =
      certificate.existing && plan.certificate.overrides?.['Status'] === 'REPLACE' && base.status !== plan.certificate.status;
    const record = {
      ...base,
      ...(statusReplaced && { status: plan.certificate.status, lastModifiedAt: now }),
      policyNames: policyName && !base.policyNames.includes(policyName) ? [...base.policyNames, policyName] : base.policyNames,
    };
    state.certificates.set(record.certificateId, record);
    if (plan.thing) {
      const principal = { key: record.certificateId, isCertificate: true };
      const attached = state.thingPrincipals.in(plan.thing.properties.ThingName).get(record.certificateId);
      attachPrincipal(state, plan.thing.properties.ThingName, principal, attached?.thingPrincipalType ?? 'NON_EXCLUSIVE_THING', clock);
    }
    resourceArns[plan.certificate.logicalId] = certificateArn(region, accountId, record.certificateId);
    result.certificatePem = record.certificatePem;
  }
  return result;
}

interface PreparedCertificate {
  parsed: ParsedCertificate;
  existing?: Stored<CertificateRecord>;
}

function prepareCertificate(
  state: LocalCloudState,
  resource: CertificateResource,
  signed: IssuedCertificate | undefined,
): PreparedCertificate {
  const { source } = resource;
  if (source.kind === 'id') {
    const existing = state.certificates.get(source.certificateId);
    if (!existing) throw registrationFailure(`Certificate ${source.certificateId} does not exist`);
    return { parsed: existing, existing };
  }
  let parsed: ParsedCertificate;
  try {
    parsed = source.kind === 'pem' ? parseCertificate(source.certificatePem) : (signed as IssuedCertificate);
  } catch (error) {
    throw iotError('InvalidRequestException', `CertificatePem is not valid: ${(error as Error).message}`);
  }
  const existing = state.certificates.get(parsed.certificateId);
  return existing ? { parsed, existing } : { parsed };
}

/** A policy created from a document is named by the document's hash, so re-runs reuse it. */
function resolvePolicyName(state: LocalCloudState, source: NonNullable<ProvisioningPlan['policy']>['source']): string {
  if (source.kind === 'document') return createHash('sha256').update(source.policyDocument).digest('hex');
  if (!state.policies.has(source.policyName)) throw registrationFailure(`Policy ${source.policyName} does not exist`);
  return source.policyName;
}

function newThing(resource: ThingResource) {
  const { ThingName, ThingTypeName, AttributePayload, ThingGroups, BillingGroup } = resource.properties;
  return {
    thingName: ThingName,
    ...(ThingTypeName !== undefined && { thingTypeName: ThingTypeName }),
    ...(BillingGroup !== undefined && { billingGroupName: BillingGroup }),
    ...(AttributePayload && { attributes: AttributePayload }),
    ...(ThingGroups && { thingGroups: ThingGroups }),
  };
}

type ThingUpdate = Stored<Pick<ThingRecord, 'attributes' | 'thingGroups'> & Partial<Pick<ThingRecord, 'thingTypeName'>>>;

/**
 * What the template's OverrideSettings change on an existing thing, or undefined when they change
 * nothing. Without OverrideSettings an existing thing is reused unchanged (AWS does not document
 * this case); with them, properties without a setting are left alone too.
 */
function overriddenProperties(thing: Stored<ThingRecord>, resource: ThingResource): ThingUpdate | undefined {
  const overrides = resource.overrides ?? {};
  const { AttributePayload, ThingTypeName, ThingGroups } = resource.properties;
  let attributes: Record<string, string> | undefined;
  if (AttributePayload && overrides['AttributePayload'] === 'REPLACE') attributes = { ...AttributePayload };
  if (AttributePayload && overrides['AttributePayload'] === 'MERGE') attributes = { ...thing.attributes, ...AttributePayload };
  let thingGroups: string[] | undefined;
  if (ThingGroups && overrides['ThingGroups'] === 'REPLACE') thingGroups = [...ThingGroups];
  if (ThingGroups && overrides['ThingGroups'] === 'MERGE') thingGroups = [...new Set([...thing.thingGroups, ...ThingGroups])];
  const thingTypeName = overrides['ThingTypeName'] === 'REPLACE' ? ThingTypeName : undefined;
  if (!attributes && !thingGroups && thingTypeName === undefined) return undefined;
  return {
    attributes: attributes ?? thing.attributes,
    thingGroups: thingGroups ?? thing.thingGroups,
    ...(thingTypeName !== undefined && { thingTypeName }),
  };
}

function hasFail(overrides: OverrideSettings | undefined): boolean {
  return overrides !== undefined && Object.values(overrides).includes('FAIL');
}

function registrationFailure(message: string): RestJsonError {
  return iotError('ResourceRegistrationFailureException', message);
}
