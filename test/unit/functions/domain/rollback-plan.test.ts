import { describe, expect, it } from 'vitest';
import { type DeviceRecord, recordOf } from '../../../../functions/domain/records.ts';
import {
  callsAfterListing,
  detachesPending,
  failureOf,
  firstRollbackCalls,
  isCertificateArn,
  planRollback,
} from '../../../../functions/domain/rollback.ts';
import { failedStep } from '../../../../functions/domain/summary.ts';

/** What a rollback removes, call by call: only what this execution created, never the device's own certificate. */
const own = `arn:aws:iot:us-east-1:000000000000:cert/${'a'.repeat(64)}`;
const issued = `arn:aws:iot:us-east-1:000000000000:cert/${'b'.repeat(64)}`;
const stray = `arn:aws:iot:us-east-1:000000000000:cert/${'c'.repeat(64)}`;
const cognito = 'us-east-1:11111111-2222-3333-4444-555555555555';
const created = { thingExisted: false, principalAttached: false };
const device = (record: Partial<DeviceRecord>): DeviceRecord => ({
  thingName: 't',
  coreDeviceThingName: 'core',
  status: 'PENDING',
  ...record,
});

describe('which principals a rollback takes for certificates', () => {
  it('knows a certificate by its ARN, and nothing else', () => {
    expect(isCertificateArn(own)).toBe(true);
    expect(isCertificateArn(cognito)).toBe(false);
    expect(isCertificateArn('arn:aws:iam::000000000000:role/cert-rotator')).toBe(false);
  });
});

describe('the calls a rollback starts with', () => {
  it('lists the principals of a thing it created before deleting anything, and disassociates first after a failed association', () => {
    const record = device({ principal: own, prior: created, thingArn: 'arn:thing/t' });
    expect(firstRollbackCalls(record, planRollback(record, false))).toEqual([{ call: 'listPrincipals' }]);
    const unassociated = { ...record, status: 'FAILED' as const, error: { step: 'associate' as const, code: 'X', message: 'm' } };
    expect(firstRollbackCalls(unassociated, planRollback(unassociated, false))).toEqual([
      { call: 'disassociate' },
      { call: 'listPrincipals' },
    ]);
  });

  it('on a thing that existed, only detaches the principal it attached, and deletes nothing', () => {
    const record = device({ principal: own, prior: { thingExisted: true, principalAttached: false } });
    expect(firstRollbackCalls(record, planRollback(record, false))).toEqual([{ call: 'detach', principal: own }]);
  });

  it('on a thing that existed with the principal attached, gives the attachment its type back and detaches nothing', () => {
    const record = device({ principal: own, prior: { thingExisted: true, principalAttached: true, principalType: 'NON_EXCLUSIVE_THING' } });
    expect(firstRollbackCalls(record, planRollback(record, false))).toEqual([
      { call: 'restoreAttachment', principal: own, thingPrincipalType: 'NON_EXCLUSIVE_THING' },
    ]);
    const untyped = device({ principal: own, prior: { thingExisted: true, principalAttached: true } });
    expect(firstRollbackCalls(untyped, planRollback(untyped, false))).toEqual([]);
  });

  it('on a thing that existed, retires the certificate this execution issued: deactivated, detached, deleted', () => {
    const record = device({ certificateArn: issued, certificateCreated: true, prior: { thingExisted: true, principalAttached: false } });
    expect(firstRollbackCalls(record, planRollback(record, true))).toEqual([
      { call: 'deactivateCertificate', principal: issued },
      { call: 'detach', principal: issued },
      { call: 'deleteCertificate', principal: issued },
    ]);
  });

  it('touches nothing without the record of what existed before', () => {
    const record = device({ principal: own });
    expect(firstRollbackCalls(record, planRollback(record, true))).toEqual([]);
  });
});

describe('the calls after listing a thing the rollback created', () => {
  it("detaches the device's own certificate and deletes the thing, and never deactivates or deletes that certificate", () => {
    const record = device({ principal: own, certificateArn: own, prior: created });
    expect(callsAfterListing(planRollback(record, false), [own])).toEqual([{ call: 'detach', principal: own }, { call: 'deleteThing' }]);
  });

  it('retires every certificate on the thing when its template issues one per call, and only detaches what is not a certificate', () => {
    const record = device({ certificateArn: issued, certificateCreated: true, prior: created });
    expect(callsAfterListing(planRollback(record, true), [issued, stray, cognito])).toEqual([
      { call: 'deactivateCertificate', principal: issued },
      { call: 'detach', principal: issued },
      { call: 'deleteCertificate', principal: issued },
      { call: 'deactivateCertificate', principal: stray },
      { call: 'detach', principal: stray },
      { call: 'deleteCertificate', principal: stray },
      { call: 'detach', principal: cognito },
      { call: 'deleteThing' },
    ]);
  });

  it('with a template that issues none, retires no certificate it finds on the thing', () => {
    const record = device({ principal: own, prior: created });
    expect(callsAfterListing(planRollback(record, false), [own, stray])).toEqual([
      { call: 'detach', principal: own },
      { call: 'detach', principal: stray },
      { call: 'deleteThing' },
    ]);
  });

  it('with no thing to list, deletes none, yet still retires the certificate this execution issued', () => {
    const record = device({ certificateArn: issued, certificateCreated: true, prior: created });
    expect(callsAfterListing(planRollback(record, true), undefined)).toEqual([
      { call: 'deactivateCertificate', principal: issued },
      { call: 'detach', principal: issued },
      { call: 'deleteCertificate', principal: issued },
    ]);
    expect(callsAfterListing(planRollback(device({ principal: own, prior: created }), false), undefined)).toEqual([]);
  });
});

describe('a rollback still under way', () => {
  it.each([
    [[{ call: 'disassociate' }], true],
    [[{ call: 'listPrincipals' }], true],
    [
      [
        { call: 'deleteCertificate', principal: issued },
        { call: 'detach', principal: own },
      ],
      true,
    ],
    [[{ call: 'deleteCertificate', principal: issued }, { call: 'deleteThing' }], false],
    [
      [
        { call: 'deactivateCertificate', principal: issued },
        { call: 'restoreAttachment', principal: own, thingPrincipalType: 'EXCLUSIVE_THING' },
      ],
      false,
    ],
    [[], false],
  ] as const)('with %j still to make can detach a principal: %s', (pending, expected) => {
    expect(detachesPending(pending)).toBe(expected);
  });
});

describe('the record and the failure of a device', () => {
  it('starts the record of a device that was never inspected from its spec, its principal included only when it has one', () => {
    expect(recordOf({ thingName: 't', coreDeviceThingName: 'core', parameters: {}, principal: own }, undefined)).toEqual({
      thingName: 't',
      coreDeviceThingName: 'core',
      status: 'PENDING',
      principal: own,
    });
    expect(recordOf({ thingName: 't', coreDeviceThingName: 'core', parameters: {} }, undefined)).toEqual({
      thingName: 't',
      coreDeviceThingName: 'core',
      status: 'PENDING',
    });
    const existing = device({ thingArn: 'arn' });
    expect(recordOf({ thingName: 't', coreDeviceThingName: 'core', parameters: {} }, existing)).toBe(existing);
  });

  it('keeps the error an earlier step recorded, and says so when there is none', () => {
    const error = { step: 'associate' as const, code: 'InvalidRequestException', message: 'refused' };
    expect(failureOf({ device: device({ error }) })).toEqual(error);
    expect(failureOf({ device: undefined })).toEqual({ step: 'associate', code: 'Unknown', message: 'failed without an error' });
  });

  it('names register for a record without a thing, attach for one not yet registered', () => {
    expect(failedStep(device({ status: 'REGISTERED' }))).toBe('register');
    expect(failedStep(device({ thingArn: 'arn', status: 'PENDING' }))).toBe('attach');
  });
});
