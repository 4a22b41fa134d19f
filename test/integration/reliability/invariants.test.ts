import { describe, expect, it } from 'vitest';
import type { DeviceOutcome, RequestSummary } from '../../../functions/domain/records.ts';
import type { StateSnapshot } from '../../../local-cloud/store.ts';
import { checkDeprovisioning, checkProvisioning, type DeprovisioningRequestShape, type ProvisioningRequestShape } from './invariants.ts';

/**
 * The checker is what every reliability scenario trusts, so it is tested on hand-made states: a
 * consistent run passes, and each way of breaking one invariant is caught with a sentence that names
 * the device. A checker that passed everything would make every scenario green.
 */
const certId = (digit: string) => digit.repeat(64);
const certArn = (digit: string) => `arn:aws:iot:us-east-1:000000000000:cert/${certId(digit)}`;
const thing = (thingName: string, attributes: Record<string, string> = {}, version = 1) => ({
  thingName,
  thingId: `id-${thingName}`,
  attributes,
  thingGroups: [],
  version,
  createdAt: 0,
});
const attached = (digit: string, thingPrincipalType: 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING' = 'EXCLUSIVE_THING') => ({
  principal: certId(digit),
  thingPrincipalType,
  attachedAt: 0,
});

function snapshot(parts: Partial<StateSnapshot>): StateSnapshot {
  return {
    formatVersion: 1,
    things: [],
    thingPrincipals: {},
    certificates: [],
    policies: [],
    thingTypes: [],
    identityPolicies: {},
    coreDevices: [],
    associations: {},
    tables: [],
    eventBuses: [],
    buckets: [],
    ...parts,
  };
}

function summaryOf(devices: DeviceOutcome[]): RequestSummary {
  const failed = devices.filter((device) => device.status === 'FAILED').length;
  return {
    requestId: 'r',
    status: failed === 0 ? 'SUCCEEDED' : 'PARTIAL',
    counts: { requested: devices.length, succeeded: devices.length - failed, failed, rolledBack: 0 },
    devices,
  };
}

/**
 * `new-ok` is provisioned; `new-failed` failed and was rolled back; `old` existed before with
 * attributes and a principal, was provisioned again, and `old-failed` existed before and failed.
 */
const provisionRequest: ProvisioningRequestShape = {
  coreDeviceThingName: 'core-1',
  devices: [
    { thingName: 'new-ok', principal: certArn('a') },
    { thingName: 'new-failed', principal: certArn('b') },
    { thingName: 'old', principal: certArn('c'), coreDeviceThingName: 'core-2' },
    { thingName: 'old-failed', principal: certArn('d') },
  ],
};
const provisionBefore = snapshot({
  things: [thing('old', { model: 'legacy' }, 3), thing('old-failed', { site: 'x' }, 2), thing('bystander', { keep: 'me' })],
  thingPrincipals: { old: [attached('c')], 'old-failed': [attached('e', 'NON_EXCLUSIVE_THING')], bystander: [attached('f')] },
  associations: { 'core-2': [{ thingName: 'bystander', associatedAt: 0 }] },
});
const provisionAfter = snapshot({
  things: [
    thing('old', { model: 'legacy' }, 3),
    thing('old-failed', { site: 'x' }, 2),
    thing('bystander', { keep: 'me' }),
    thing('new-ok'),
  ],
  thingPrincipals: {
    old: [attached('c')],
    'old-failed': [attached('e', 'NON_EXCLUSIVE_THING')],
    bystander: [attached('f')],
    'new-ok': [attached('a')],
  },
  associations: {
    'core-1': [{ thingName: 'new-ok', associatedAt: 1 }],
    'core-2': [
      { thingName: 'bystander', associatedAt: 0 },
      { thingName: 'old', associatedAt: 1 },
    ],
  },
});
const failure = { step: 'associate' as const, code: 'InvalidRequestException', message: 'no' };
const provisionSummary = summaryOf([
  { thingName: 'new-ok', status: 'PROVISIONED', coreDeviceThingName: 'core-1' },
  {
    thingName: 'new-failed',
    status: 'FAILED',
    coreDeviceThingName: 'core-1',
    error: failure,
    rollback: { detachedPrincipals: [certArn('b')], thingDeleted: true, certificateDeleted: false },
  },
  { thingName: 'old', status: 'PROVISIONED', coreDeviceThingName: 'core-2' },
  {
    thingName: 'old-failed',
    status: 'FAILED',
    coreDeviceThingName: 'core-1',
    error: failure,
    rollback: { detachedPrincipals: [certArn('d')], thingDeleted: false, certificateDeleted: false },
  },
]);

type Breakage<R> = [
  description: string,
  mutate: (fixture: { request: R; summary: RequestSummary; before: StateSnapshot; after: StateSnapshot }) => void,
  expected: string,
];

describe('checkProvisioning', () => {
  it('passes a run in which every invariant holds', () => {
    expect(checkProvisioning(provisionRequest, provisionSummary, provisionBefore, provisionAfter)).toEqual([]);
  });

  const breakages: Breakage<ProvisioningRequestShape>[] = [
    ['a device without an outcome', ({ summary }) => summary.devices.pop(), 'old-failed: no outcome'],
    ['a device with two outcomes', ({ summary }) => summary.devices.push({ ...summary.devices[0]! }), 'new-ok: more than one outcome'],
    [
      'an outcome for a device nobody asked for',
      ({ summary }) => summary.devices.push({ thingName: 'stray', status: 'FAILED', coreDeviceThingName: 'core-1' }),
      'stray: an outcome for a device that was not requested',
    ],
    ['counts that do not add up', ({ summary }) => (summary.counts.succeeded = 4), 'counts'],
    ['a missing summary', (fixture) => (fixture.summary = null as never), 'the execution returned no summary'],
    ['a provisioned thing that does not exist', ({ after }) => after.things.pop(), 'new-ok: PROVISIONED but the thing does not exist'],
    [
      'a provisioned thing without its principal',
      ({ after }) => (after.thingPrincipals['new-ok'] = []),
      `new-ok: PROVISIONED but principal ${certId('a')} is not attached`,
    ],
    [
      'a principal whose detachment is still propagating',
      ({ after }) => (after.thingPrincipals['new-ok'] = [{ ...attached('a'), detachedAt: 5 }]),
      'new-ok: PROVISIONED but principal',
    ],
    [
      'the wrong exclusivity',
      ({ after }) => (after.thingPrincipals['new-ok'] = [attached('a', 'NON_EXCLUSIVE_THING')]),
      'new-ok: principal attached NON_EXCLUSIVE_THING, requested EXCLUSIVE_THING',
    ],
    [
      'a provisioned device that is not associated',
      ({ after }) => (after.associations['core-1'] = []),
      'new-ok: PROVISIONED but not associated with core device core-1',
    ],
    [
      'an association with the wrong core device',
      ({ request }) => (request.devices[0]!.coreDeviceThingName = 'core-2'),
      'new-ok: PROVISIONED but not associated with core device core-2',
    ],
    [
      'a failed device whose created thing was left',
      ({ after }) => after.things.push(thing('new-failed')),
      'new-failed: FAILED, and the thing this request created is still there',
    ],
    [
      'a failed pre-existing thing left with the principal this request attached',
      ({ after }) => after.thingPrincipals['old-failed']!.push(attached('d')),
      `old-failed: FAILED, and principal ${certId('d')} that this request attached is still attached`,
    ],
    [
      'a failed pre-existing thing whose attachment changed type',
      ({ after }) => (after.thingPrincipals['old-failed'] = [attached('e')]),
      `old-failed: FAILED, and principal ${certId('e')}, attached NON_EXCLUSIVE_THING before, is now EXCLUSIVE_THING`,
    ],
    [
      'a failed device left associated',
      ({ after }) => after.associations['core-1']!.push({ thingName: 'old-failed', associatedAt: 1 }),
      'old-failed: FAILED, and the association with core-1 that this request made is still there',
    ],
    [
      'a rollback that could not finish',
      ({ summary }) => (summary.devices[1]!.rollback!.incomplete = { step: 'rollback', code: 'ThingStillHasPrincipals', message: '' }),
      'new-failed: rollback incomplete (ThingStillHasPrincipals)',
    ],
    [
      'a pre-existing thing deleted by its rollback',
      ({ after }) => (after.things = after.things.filter((t) => t.thingName !== 'old-failed')),
      'old-failed: existed before the request and was deleted',
    ],
    [
      'changed attributes of a pre-existing thing',
      ({ after }) => (after.things[0]!.attributes = { model: 'th-200' }),
      'old: attributes changed',
    ],
    ['a bumped version of a pre-existing thing', ({ after }) => (after.things[0]!.version = 4), 'old: version changed from 3 to 4'],
    [
      'a principal a pre-existing thing had, detached',
      ({ after }) => (after.thingPrincipals['old-failed'] = []),
      `old-failed: lost principal ${certId('e')} it had before`,
    ],
    [
      'a bystander that lost its association',
      ({ after }) => after.associations['core-2']!.shift(),
      'bystander: was associated with core-2 before the request and is not any more',
    ],
  ];

  it.each(breakages)('catches %s', (_, mutate, expected) => {
    const fixture = structuredClone({
      request: provisionRequest,
      summary: provisionSummary,
      before: provisionBefore,
      after: provisionAfter,
    });
    mutate(fixture);
    const violations = checkProvisioning(fixture.request, fixture.summary, fixture.before, fixture.after);
    expect(violations.some((violation) => violation.startsWith(expected))).toBe(true);
  });

  it('holds a failed device to nothing when the request asked for no rollback', () => {
    const fixture = structuredClone({ before: provisionBefore, after: provisionAfter });
    fixture.after.things.push(thing('new-failed'));
    expect(checkProvisioning({ ...provisionRequest, rollbackOnFailure: false }, provisionSummary, fixture.before, fixture.after)).toEqual(
      [],
    );
  });

  it('matches a template-issued certificate by the ARN in the outcome', () => {
    const request: ProvisioningRequestShape = { coreDeviceThingName: 'core-1', devices: [{ thingName: 'csr' }] };
    const after = snapshot({
      things: [thing('csr')],
      thingPrincipals: { csr: [attached('9')] },
      associations: { 'core-1': [{ thingName: 'csr', associatedAt: 0 }] },
    });
    const outcome = (digit: string): DeviceOutcome => ({
      thingName: 'csr',
      status: 'PROVISIONED',
      coreDeviceThingName: 'core-1',
      certificateArn: certArn(digit),
    });
    expect(checkProvisioning(request, summaryOf([outcome('9')]), snapshot({}), after)).toEqual([]);
    expect(checkProvisioning(request, summaryOf([outcome('8')]), snapshot({}), after)).toEqual([
      `csr: PROVISIONED but principal ${certId('8')} is not attached`,
    ]);
  });
});

/** `gone` was removed; `kept` failed to disassociate and keeps everything; `bystander` is not in the request. */
const deprovisionRequest: DeprovisioningRequestShape = {
  coreDeviceThingName: 'core-1',
  devices: [{ thingName: 'gone' }, { thingName: 'kept' }, { thingName: 'never-existed' }],
};
const deprovisionBefore = snapshot({
  things: [thing('gone'), thing('kept'), thing('bystander')],
  thingPrincipals: { gone: [attached('a')], kept: [attached('b')], bystander: [attached('c')] },
  associations: {
    'core-1': [
      { thingName: 'gone', associatedAt: 0 },
      { thingName: 'kept', associatedAt: 0 },
      { thingName: 'bystander', associatedAt: 0 },
    ],
  },
});
const deprovisionAfter = snapshot({
  things: [thing('kept'), thing('bystander')],
  thingPrincipals: { gone: [{ ...attached('a'), detachedAt: 1 }], kept: [attached('b')], bystander: [attached('c')] },
  associations: {
    'core-1': [
      { thingName: 'kept', associatedAt: 0 },
      { thingName: 'bystander', associatedAt: 0 },
    ],
  },
});
const deprovisionSummary = summaryOf([
  { thingName: 'gone', status: 'DEPROVISIONED', coreDeviceThingName: 'core-1' },
  {
    thingName: 'kept',
    status: 'FAILED',
    coreDeviceThingName: 'core-1',
    error: { step: 'disassociate', code: 'InvalidRequestException', message: 'no' },
  },
  { thingName: 'never-existed', status: 'DEPROVISIONED', coreDeviceThingName: 'core-1' },
]);

describe('checkDeprovisioning', () => {
  it('passes a run in which every invariant holds, a propagating detachment and an already-gone device included', () => {
    expect(checkDeprovisioning(deprovisionRequest, deprovisionSummary, deprovisionBefore, deprovisionAfter)).toEqual([]);
  });

  const breakages: Breakage<DeprovisioningRequestShape>[] = [
    ['a device without an outcome', ({ summary }) => summary.devices.pop(), 'never-existed: no outcome'],
    [
      'a removed device still associated',
      ({ after }) => after.associations['core-1']!.push({ thingName: 'gone', associatedAt: 0 }),
      'gone: DEPROVISIONED but still associated with core-1',
    ],
    [
      'a removed device with a principal still attached',
      ({ after }) => (after.thingPrincipals.gone = [attached('a')]),
      'gone: DEPROVISIONED but principals are still attached',
    ],
    [
      'a removed device whose thing is still there',
      ({ after }) => after.things.push(thing('gone')),
      'gone: DEPROVISIONED but the thing still exists',
    ],
    [
      'a device that failed to disassociate and lost its thing',
      ({ after }) => after.things.shift(),
      'kept: disassociation FAILED, yet the thing was deleted',
    ],
    [
      'a device that failed to disassociate and lost its principals',
      ({ after }) => (after.thingPrincipals.kept = []),
      'kept: disassociation FAILED, yet its principals were detached',
    ],
    ['a thing outside the request deleted', ({ after }) => after.things.pop(), 'bystander: existed before the request and was deleted'],
  ];

  it.each(breakages)('catches %s', (_, mutate, expected) => {
    const fixture = structuredClone({
      request: deprovisionRequest,
      summary: deprovisionSummary,
      before: deprovisionBefore,
      after: deprovisionAfter,
    });
    mutate(fixture);
    const violations = checkDeprovisioning(fixture.request, fixture.summary, fixture.before, fixture.after);
    expect(violations.some((violation) => violation.startsWith(expected))).toBe(true);
  });
});

/** A cancelled provisioning: `done` was provisioned; `new-later` (no thing) and `old-later` (a thing with a principal, associated) were not started. */
const cancelledRequest: ProvisioningRequestShape = {
  coreDeviceThingName: 'core-1',
  devices: [
    { thingName: 'done', principal: certArn('a') },
    { thingName: 'new-later', principal: certArn('b') },
    { thingName: 'old-later', principal: certArn('c') },
  ],
};
const cancelledBefore = snapshot({
  things: [thing('old-later', { model: 'legacy' }, 2)],
  thingPrincipals: { 'old-later': [attached('c', 'NON_EXCLUSIVE_THING')] },
  associations: { 'core-1': [{ thingName: 'old-later', associatedAt: 0 }] },
});
const cancelledAfter = snapshot({
  things: [thing('old-later', { model: 'legacy' }, 2), thing('done')],
  thingPrincipals: { 'old-later': [attached('c', 'NON_EXCLUSIVE_THING')], done: [attached('a')] },
  associations: {
    'core-1': [
      { thingName: 'old-later', associatedAt: 0 },
      { thingName: 'done', associatedAt: 1 },
    ],
  },
});
const cancelledSummary: RequestSummary = {
  requestId: 'r',
  status: 'CANCELLED',
  counts: { requested: 3, succeeded: 1, failed: 0, rolledBack: 0, notStarted: 2 },
  devices: [
    { thingName: 'done', status: 'PROVISIONED', coreDeviceThingName: 'core-1' },
    { thingName: 'new-later', status: 'NOT_STARTED', coreDeviceThingName: 'core-1' },
    { thingName: 'old-later', status: 'NOT_STARTED', coreDeviceThingName: 'core-1' },
  ],
};

describe('devices a cancel left NOT_STARTED', () => {
  it('passes a cancelled run whose devices not started are as they were', () => {
    expect(checkProvisioning(cancelledRequest, cancelledSummary, cancelledBefore, cancelledAfter)).toEqual([]);
    const asDeprovisioning = {
      ...cancelledSummary,
      devices: cancelledSummary.devices.map((device) =>
        device.thingName === 'done' ? { ...device, status: 'DEPROVISIONED' as const } : device,
      ),
    };
    // `done` was never there: removing it leaves the state as it was.
    expect(checkDeprovisioning(cancelledRequest, asDeprovisioning, cancelledBefore, cancelledBefore)).toEqual([]);
  });

  const breakages: Breakage<ProvisioningRequestShape>[] = [
    [
      'a thing created for a device not started',
      ({ after }) => after.things.push(thing('new-later')),
      'new-later: NOT_STARTED, yet its thing was created',
    ],
    ['a thing deleted', ({ after }) => after.things.shift(), 'old-later: NOT_STARTED, yet its thing was deleted'],
    ['a thing updated', ({ after }) => (after.things[0]!.version = 3), 'old-later: NOT_STARTED, yet its thing changed'],
    [
      'a principal attached',
      ({ after }) => (after.thingPrincipals['new-later'] = [attached('b')]),
      'new-later: NOT_STARTED, yet its principals changed',
    ],
    [
      'an attachment converted',
      ({ after }) => (after.thingPrincipals['old-later'] = [attached('c')]),
      'old-later: NOT_STARTED, yet its principals changed',
    ],
    [
      'an association made',
      ({ after }) => after.associations['core-1']!.push({ thingName: 'new-later', associatedAt: 1 }),
      'new-later: NOT_STARTED, yet its association with core-1 changed',
    ],
    [
      'an association removed',
      ({ after }) => after.associations['core-1']!.shift(),
      'old-later: NOT_STARTED, yet its association with core-1 changed',
    ],
    ['counts without the devices not started', ({ summary }) => delete summary.counts.notStarted, 'counts'],
    ['a status other than CANCELLED', ({ summary }) => (summary.status = 'SUCCEEDED'), 'status SUCCEEDED with 2 devices not started'],
  ];

  it.each(breakages)('catches %s', (_, mutate, expected) => {
    const fixture = structuredClone({
      request: cancelledRequest,
      summary: cancelledSummary,
      before: cancelledBefore,
      after: cancelledAfter,
    });
    mutate(fixture);
    const violations = checkProvisioning(fixture.request, fixture.summary, fixture.before, fixture.after);
    expect(
      violations.some((violation) => violation.startsWith(expected)),
      JSON.stringify(violations),
    ).toBe(true);
  });
});
