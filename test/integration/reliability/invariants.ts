/**
 * What must hold after any provisioning or deprovisioning run, whatever faults the local cloud
 * injected. Every reliability scenario calls these checkers with the request, the summary the
 * execution returned and two `admin.state()` snapshots: one taken before the request, one after.
 *
 * The checkers return violations as sentences instead of throwing, so that one failing scenario
 * lists every broken device at once; the tests assert the list is empty.
 */
import type { DeviceOutcome, RequestSummary, ThingPrincipalType } from '../../../functions/domain/records.ts';
import type { PrincipalAttachment, StateSnapshot } from '../../../local-cloud/store.ts';

/** The fields of a provisioning request the invariants depend on (the request as the client sent it). */
export interface ProvisioningRequestShape {
  coreDeviceThingName?: string;
  thingPrincipalType?: ThingPrincipalType;
  rollbackOnFailure?: boolean;
  devices: { thingName: string; principal?: string; coreDeviceThingName?: string }[];
}

export interface DeprovisioningRequestShape {
  coreDeviceThingName?: string;
  disassociate?: boolean;
  detachPrincipals?: boolean;
  deleteThings?: boolean;
  devices: { thingName: string; coreDeviceThingName?: string }[];
}

/** The local cloud keys attachments by certificate id; requests and summaries name certificate ARNs. */
function certificateIdOf(principal: string): string {
  const match = /cert\/([0-9a-f]{64})$/.exec(principal);
  return match ? match[1]! : principal;
}

/**
 * Attachments still in force. One detached within the local cloud's propagation window keeps a
 * record (with `detachedAt`) but is gone as far as the workflow's outcome is concerned.
 */
function activeAttachments(state: StateSnapshot, thingName: string): PrincipalAttachment[] {
  return (state.thingPrincipals[thingName] ?? []).filter((attachment) => attachment.detachedAt === undefined);
}

function thingOf(state: StateSnapshot, thingName: string) {
  return state.things.find((thing) => thing.thingName === thingName);
}

function isAssociated(state: StateSnapshot, coreDeviceThingName: string, thingName: string): boolean {
  return (state.associations[coreDeviceThingName] ?? []).some((association) => association.thingName === thingName);
}

/** Exactly one outcome per requested device, none for anything else, and counts that add up. */
function checkOneOutcomeEach(
  requested: readonly string[],
  summary: RequestSummary | null | undefined,
  successStatus: DeviceOutcome['status'],
): { violations: string[]; outcomes: Map<string, DeviceOutcome> } {
  const violations: string[] = [];
  const outcomes = new Map<string, DeviceOutcome>();
  if (!summary || !Array.isArray(summary.devices)) return { violations: ['the execution returned no summary'], outcomes };
  for (const outcome of summary.devices) {
    if (outcomes.has(outcome.thingName)) violations.push(`${outcome.thingName}: more than one outcome`);
    outcomes.set(outcome.thingName, outcome);
    if (!requested.includes(outcome.thingName)) violations.push(`${outcome.thingName}: an outcome for a device that was not requested`);
    if (![successStatus, 'FAILED', 'NOT_STARTED'].includes(outcome.status))
      violations.push(`${outcome.thingName}: status ${outcome.status} is not an outcome`);
  }
  for (const thingName of requested) if (!outcomes.has(thingName)) violations.push(`${thingName}: no outcome`);
  const succeeded = summary.devices.filter((outcome) => outcome.status === successStatus).length;
  const failed = summary.devices.filter((outcome) => outcome.status === 'FAILED').length;
  const notStarted = summary.devices.filter((outcome) => outcome.status === 'NOT_STARTED').length;
  const { counts } = summary;
  if (
    counts?.requested !== requested.length ||
    counts.succeeded !== succeeded ||
    counts.failed !== failed ||
    (counts.notStarted ?? 0) !== notStarted
  ) {
    violations.push(
      `counts ${JSON.stringify(counts)} do not match ${requested.length} requested, ${succeeded} succeeded, ${failed} failed, ${notStarted} not started`,
    );
  }
  if ((summary.status === 'CANCELLED') !== notStarted > 0)
    violations.push(`status ${summary.status} with ${notStarted} devices not started`);
  return { violations, outcomes };
}

/**
 * A device a cancel left NOT_STARTED is as it was before the request: its thing (there or not, with the same
 * attributes and version), its principals and their types, and its association.
 */
function checkUntouched(name: string, core: string, before: StateSnapshot, after: StateSnapshot): string[] {
  const violations: string[] = [];
  const [earlier, later] = [thingOf(before, name), thingOf(after, name)];
  if (!earlier !== !later) violations.push(`${name}: NOT_STARTED, yet its thing was ${earlier ? 'deleted' : 'created'}`);
  else if (
    earlier &&
    later &&
    (JSON.stringify(later.attributes) !== JSON.stringify(earlier.attributes) || later.version !== earlier.version)
  ) {
    violations.push(`${name}: NOT_STARTED, yet its thing changed`);
  }
  const attachments = (state: StateSnapshot) =>
    JSON.stringify(
      activeAttachments(state, name)
        .map((attachment) => `${attachment.principal} ${attachment.thingPrincipalType}`)
        .sort(),
    );
  if (attachments(before) !== attachments(after))
    violations.push(`${name}: NOT_STARTED, yet its principals changed from ${attachments(before)} to ${attachments(after)}`);
  if (isAssociated(before, core, name) !== isAssociated(after, core, name))
    violations.push(`${name}: NOT_STARTED, yet its association with ${core} changed`);
  return violations;
}

/**
 * Things that existed before the request keep their attributes, version and the principals they had,
 * and associations that existed before are still there: neither provisioning (which reuses an existing
 * thing) nor a rollback (which removes only what the execution created) may take them away.
 */
function checkPreExistingUntouched(before: StateSnapshot, after: StateSnapshot, removable: ReadonlySet<string>): string[] {
  const violations: string[] = [];
  for (const earlier of before.things) {
    if (removable.has(earlier.thingName)) continue;
    const later = thingOf(after, earlier.thingName);
    if (!later) {
      violations.push(`${earlier.thingName}: existed before the request and was deleted`);
      continue;
    }
    if (JSON.stringify(later.attributes) !== JSON.stringify(earlier.attributes)) {
      violations.push(
        `${earlier.thingName}: attributes changed from ${JSON.stringify(earlier.attributes)} to ${JSON.stringify(later.attributes)}`,
      );
    }
    if (later.version !== earlier.version)
      violations.push(`${earlier.thingName}: version changed from ${earlier.version} to ${later.version}`);
    const principalsAfter = new Set(activeAttachments(after, earlier.thingName).map((attachment) => attachment.principal));
    for (const attachment of activeAttachments(before, earlier.thingName)) {
      if (!principalsAfter.has(attachment.principal))
        violations.push(`${earlier.thingName}: lost principal ${attachment.principal} it had before`);
    }
  }
  for (const [core, associations] of Object.entries(before.associations)) {
    for (const { thingName } of associations) {
      if (!removable.has(thingName) && !isAssociated(after, core, thingName)) {
        violations.push(`${thingName}: was associated with ${core} before the request and is not any more`);
      }
    }
  }
  return violations;
}

export function checkProvisioning(
  request: ProvisioningRequestShape,
  summary: RequestSummary | null | undefined,
  before: StateSnapshot,
  after: StateSnapshot,
): string[] {
  const requested = request.devices.map((device) => device.thingName);
  const { violations, outcomes } = checkOneOutcomeEach(requested, summary, 'PROVISIONED');
  const principalType = request.thingPrincipalType ?? 'EXCLUSIVE_THING';
  const rollback = request.rollbackOnFailure ?? true;

  for (const device of request.devices) {
    const outcome = outcomes.get(device.thingName);
    if (!outcome) continue;
    const core = device.coreDeviceThingName ?? request.coreDeviceThingName ?? '';
    const name = device.thingName;
    if (outcome.status === 'NOT_STARTED') violations.push(...checkUntouched(name, core, before, after));
    else if (outcome.status === 'PROVISIONED') {
      if (!thingOf(after, name)) violations.push(`${name}: PROVISIONED but the thing does not exist`);
      const principal = device.principal ?? outcome.certificateArn;
      if (!principal) violations.push(`${name}: PROVISIONED without a principal`);
      else {
        const attachment = activeAttachments(after, name).find((candidate) => candidate.principal === certificateIdOf(principal));
        if (!attachment) violations.push(`${name}: PROVISIONED but principal ${certificateIdOf(principal)} is not attached`);
        else if (attachment.thingPrincipalType !== principalType) {
          violations.push(`${name}: principal attached ${attachment.thingPrincipalType}, requested ${principalType}`);
        }
      }
      if (!isAssociated(after, core, name)) violations.push(`${name}: PROVISIONED but not associated with core device ${core}`);
    } else if (outcome.status === 'FAILED' && rollback) {
      if (outcome.rollback?.incomplete) violations.push(`${name}: rollback incomplete (${outcome.rollback.incomplete.code})`);
      const existed = thingOf(before, name) !== undefined;
      if (!existed && thingOf(after, name)) violations.push(`${name}: FAILED, and the thing this request created is still there`);
      if (existed) {
        const typesBefore = new Map(
          activeAttachments(before, name).map((attachment) => [attachment.principal, attachment.thingPrincipalType]),
        );
        for (const attachment of activeAttachments(after, name)) {
          const typeBefore = typesBefore.get(attachment.principal);
          if (typeBefore === undefined)
            violations.push(`${name}: FAILED, and principal ${attachment.principal} that this request attached is still attached`);
          else if (typeBefore !== attachment.thingPrincipalType) {
            violations.push(
              `${name}: FAILED, and principal ${attachment.principal}, attached ${typeBefore} before, is now ${attachment.thingPrincipalType}`,
            );
          }
        }
      }
      if (!isAssociated(before, core, name) && isAssociated(after, core, name)) {
        violations.push(`${name}: FAILED, and the association with ${core} that this request made is still there`);
      }
    }
  }
  return [...violations, ...checkPreExistingUntouched(before, after, new Set())];
}

export function checkDeprovisioning(
  request: DeprovisioningRequestShape,
  summary: RequestSummary | null | undefined,
  before: StateSnapshot,
  after: StateSnapshot,
): string[] {
  const requested = request.devices.map((device) => device.thingName);
  const { violations, outcomes } = checkOneOutcomeEach(requested, summary, 'DEPROVISIONED');
  const disassociate = request.disassociate ?? true;
  const deleteThings = request.deleteThings ?? true;
  const detach = request.detachPrincipals ?? true;

  for (const device of request.devices) {
    const outcome = outcomes.get(device.thingName);
    if (!outcome) continue;
    const core = device.coreDeviceThingName ?? request.coreDeviceThingName ?? '';
    const name = device.thingName;
    if (outcome.status === 'NOT_STARTED') violations.push(...checkUntouched(name, core, before, after));
    else if (outcome.status === 'DEPROVISIONED') {
      if (disassociate && isAssociated(after, core, name)) violations.push(`${name}: DEPROVISIONED but still associated with ${core}`);
      if (detach && activeAttachments(after, name).length > 0) violations.push(`${name}: DEPROVISIONED but principals are still attached`);
      if (deleteThings && thingOf(after, name)) violations.push(`${name}: DEPROVISIONED but the thing still exists`);
    } else if (outcome.error?.step === 'disassociate' && thingOf(before, name)) {
      // Deleting a thing that a core device still lists would leave a dangling association.
      if (!thingOf(after, name)) violations.push(`${name}: disassociation FAILED, yet the thing was deleted`);
      const principalsAfter = new Set(activeAttachments(after, name).map((attachment) => attachment.principal));
      if (activeAttachments(before, name).some((attachment) => !principalsAfter.has(attachment.principal))) {
        violations.push(`${name}: disassociation FAILED, yet its principals were detached`);
      }
    }
  }
  return [...violations, ...checkPreExistingUntouched(before, after, new Set(requested))];
}
