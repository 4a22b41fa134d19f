import { randomUUID } from 'node:crypto';
import type {
  CertificateRecord,
  CertificateStatus,
  Collection,
  LocalCloudState,
  PrincipalAttachment,
  Stored,
  ThingPrincipalType,
  ThingRecord,
} from '../../store.ts';
import { isPlainObject } from '../../wire/validation.ts';
import type { ParsedCertificate } from './certificate-authority.ts';
import { iotError } from './errors.ts';

/** The registry rules shared by the IoT operations, RegisterThing and Greengrass core devices. */

export function thingArn(region: string, accountId: string, thingName: string): string {
  return `arn:aws:iot:${region}:${accountId}:thing/${thingName}`;
}

export function certificateArn(region: string, accountId: string, certificateId: string): string {
  return `arn:aws:iot:${region}:${accountId}:cert/${certificateId}`;
}

export function policyArn(region: string, accountId: string, policyName: string): string {
  return `arn:aws:iot:${region}:${accountId}:policy/${policyName}`;
}

const CERTIFICATE_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:(\d{12}):cert\/([0-9a-fA-F]{64})$/;
const COGNITO_IDENTITY_ID = /^[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Principal {
  /** Store key: the certificate id for a certificate, else the Cognito identity id. */
  key: string;
  isCertificate: boolean;
}

/** A certificate ARN resolves only in the account it names; the region does not matter (one namespace). */
export function parsePrincipal(principal: string, accountId: string): Principal {
  const [, certificateAccount, certificateId] = CERTIFICATE_ARN.exec(principal) ?? [];
  if (certificateId !== undefined) {
    if (certificateAccount !== accountId) throw iotError('ResourceNotFoundException', `The certificate ${principal} does not exist`);
    return { key: certificateId.toLowerCase(), isCertificate: true };
  }
  if (COGNITO_IDENTITY_ID.test(principal)) return { key: principal, isCertificate: false };
  throw iotError('InvalidRequestException', `The given principal ${principal} is neither a certificate ARN nor a Cognito identity id`);
}

/**
 * Why IoT would refuse `document` as a policy document, or undefined when it would not. The
 * emulator checks the form only: a JSON object with a `Statement`.
 */
export function policyDocumentProblem(document: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return 'The policy document is not valid JSON.';
  }
  if (!isPlainObject(parsed)) return 'The policy document is not a JSON object.';
  if (parsed['Statement'] === undefined) return 'The policy document has no Statement.';
  return undefined;
}

/** Things without a thing type can have 3 attributes, with one 50 (IoT developer guide, "Thing types"). */
const MAX_ATTRIBUTES_WITHOUT_TYPE = 3;
const MAX_ATTRIBUTES_WITH_TYPE = 50;

/** Refuses a thing whose attributes would outnumber what its thing type (or the lack of one) allows. */
export function assertAttributeLimit(
  thingName: string,
  attributes: Readonly<Record<string, string>>,
  thingTypeName: string | undefined,
): void {
  const limit = thingTypeName === undefined ? MAX_ATTRIBUTES_WITHOUT_TYPE : MAX_ATTRIBUTES_WITH_TYPE;
  const count = Object.keys(attributes).length;
  if (count > limit) {
    const typed = thingTypeName === undefined ? 'without a thing type' : `of thing type ${thingTypeName}`;
    throw iotError(
      'InvalidRequestException',
      `Thing ${thingName} would have ${count} attributes; a thing ${typed} can have at most ${limit}`,
    );
  }
}

/** Refuses to give a thing a thing type that does not exist or is deprecated, as CreateThing and UpdateThing do. */
export function assertThingTypeUsable(state: LocalCloudState, thingTypeName: string): void {
  const thingType = state.thingTypes.get(thingTypeName);
  if (!thingType) throw iotError('ResourceNotFoundException', `Thing type ${thingTypeName} does not exist`);
  if (thingType.deprecated) {
    throw iotError('InvalidRequestException', `Thing type ${thingTypeName} is deprecated: no new thing can be associated with it`);
  }
}

export function thingTypeArn(region: string, accountId: string, thingTypeName: string): string {
  return `arn:aws:iot:${region}:${accountId}:thingtype/${thingTypeName}`;
}

export function renderPrincipal(region: string, accountId: string, key: string): string {
  return /^[0-9a-f]{64}$/.test(key) ? certificateArn(region, accountId, key) : key;
}

export interface NewThing {
  thingName: string;
  thingTypeName?: string;
  billingGroupName?: string;
  attributes?: Record<string, string>;
  thingGroups?: string[];
}

export function createThing(state: LocalCloudState, thing: NewThing, now: number): ThingRecord {
  const record: ThingRecord = {
    thingName: thing.thingName,
    thingId: randomUUID(),
    attributes: { ...thing.attributes },
    thingGroups: [...(thing.thingGroups ?? [])],
    version: 1,
    createdAt: now,
  };
  if (thing.thingTypeName !== undefined) record.thingTypeName = thing.thingTypeName;
  if (thing.billingGroupName !== undefined) record.billingGroupName = thing.billingGroupName;
  state.things.set(record.thingName, record);
  return record;
}

export function newCertificateRecord(
  parsed: ParsedCertificate,
  status: CertificateStatus,
  now: number,
  caCertificateId: string | undefined,
  certificateMode: 'DEFAULT' | 'SNI_ONLY' = 'DEFAULT',
): CertificateRecord {
  return {
    certificateId: parsed.certificateId,
    certificatePem: parsed.certificatePem,
    status,
    ...(caCertificateId !== undefined && { caCertificateId }),
    certificateMode,
    policyNames: [],
    createdAt: now,
    lastModifiedAt: now,
    customerVersion: 1,
    generationId: randomUUID(),
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
  };
}

/**
 * Attachments are eventually consistent: a detached principal keeps counting as attached for
 * `propagationMs` (DetachThingPrincipal is asynchronous on AWS). Timing is checked lazily.
 */
export interface AttachmentClock {
  now: number;
  propagationMs: number;
}

/** The thing's attachments, after dropping those whose detachment has propagated. */
export function thingAttachments(state: LocalCloudState, thingName: string, clock: AttachmentClock): Collection<PrincipalAttachment> {
  const attachments = state.thingPrincipals.in(thingName);
  for (const attachment of [...attachments.values()]) {
    if (attachment.detachedAt !== undefined && clock.now >= attachment.detachedAt + clock.propagationMs) {
      removeAttachment(state, thingName, attachment.principal);
    }
  }
  return attachments;
}

/** Every thing the principal is (still) attached to, with the attachment. */
export function principalAttachments(
  state: LocalCloudState,
  principalKey: string,
  clock: AttachmentClock,
): Array<[string, Stored<PrincipalAttachment>]> {
  const result: Array<[string, Stored<PrincipalAttachment>]> = [];
  for (const [thingName] of [...state.principalThings.in(principalKey).entries()]) {
    const attachment = thingAttachments(state, thingName, clock).get(principalKey);
    if (attachment) result.push([thingName, attachment]);
  }
  return result;
}

/**
 * Refuses an attachment that would break exclusivity: the principal is attached exclusively to
 * another thing, or an exclusive attachment is asked for a principal attached elsewhere.
 */
export function assertAttachable(
  state: LocalCloudState,
  thingName: string,
  principal: Principal,
  type: ThingPrincipalType,
  clock: AttachmentClock,
): void {
  if (type === 'EXCLUSIVE_THING' && !principal.isCertificate) {
    throw iotError('InvalidRequestException', 'Only X.509 certificates can be attached with thingPrincipalType EXCLUSIVE_THING');
  }
  const others = principalAttachments(state, principal.key, clock).filter(([name]) => name !== thingName);
  const exclusiveElsewhere = others.find(([, attachment]) => attachment.thingPrincipalType === 'EXCLUSIVE_THING');
  if (exclusiveElsewhere) {
    throw iotError('InvalidRequestException', `Principal is already attached exclusively to thing ${exclusiveElsewhere[0]}`);
  }
  const [firstOther] = others;
  if (type === 'EXCLUSIVE_THING' && firstOther) {
    throw iotError('InvalidRequestException', `Principal cannot be attached exclusively: it is already attached to thing ${firstOther[0]}`);
  }
}

/**
 * Attaches after `assertAttachable`. Re-attaching the same pair is a no-op that takes the
 * requested type and cancels a pending detachment.
 */
export function attachPrincipal(
  state: LocalCloudState,
  thingName: string,
  principal: Principal,
  type: ThingPrincipalType,
  clock: AttachmentClock,
): void {
  assertAttachable(state, thingName, principal, type, clock);
  const attachments = state.thingPrincipals.in(thingName);
  const { detachedAt: _cancelled, ...existing } = attachments.get(principal.key) ?? { principal: principal.key, attachedAt: clock.now };
  attachments.set(principal.key, { ...existing, thingPrincipalType: type });
  state.principalThings.in(principal.key).set(thingName, true);
}

/** Starts a detachment; returns false when the pair is not attached. */
export function detachPrincipal(state: LocalCloudState, thingName: string, principalKey: string, clock: AttachmentClock): boolean {
  const attachments = thingAttachments(state, thingName, clock);
  const attachment = attachments.get(principalKey);
  if (!attachment) return false;
  if (clock.propagationMs === 0) removeAttachment(state, thingName, principalKey);
  else if (attachment.detachedAt === undefined) attachments.set(principalKey, { ...attachment, detachedAt: clock.now });
  return true;
}

function removeAttachment(state: LocalCloudState, thingName: string, principalKey: string): void {
  state.thingPrincipals.in(thingName).delete(principalKey);
  state.principalThings.in(principalKey).delete(thingName);
}
