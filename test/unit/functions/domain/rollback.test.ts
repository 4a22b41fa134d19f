import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../../../functions/domain/records.ts';
import {
  abandonedRollback,
  callsAfterListing,
  failureOf,
  firstRollbackCalls,
  planRollback,
} from '../../../../functions/domain/rollback.ts';
import { failedStep } from '../../../../functions/domain/summary.ts';

const certificate = `arn:aws:iot:us-east-1:000000000000:cert/${'c'.repeat(64)}`;
const base: DeviceRecord = { thingName: 't', coreDeviceThingName: 'core', status: 'PENDING', principal: certificate };

describe('rollback planning', () => {
  it('deletes a thing this execution created', () => {
    expect(planRollback({ ...base, prior: { thingExisted: false, principalAttached: false } }, false)).toEqual({
      deleteThing: true,
      detachPrincipals: [],
      knownAttached: [],
    });
  });

  it('never deletes a thing that existed before, and detaches only a principal it attached', () => {
    expect(planRollback({ ...base, prior: { thingExisted: true, principalAttached: false } }, false)).toEqual({
      deleteThing: false,
      detachPrincipals: [certificate],
      knownAttached: [],
    });
    expect(planRollback({ ...base, prior: { thingExisted: true, principalAttached: true } }, false)).toEqual({
      deleteThing: false,
      detachPrincipals: [],
      knownAttached: [],
    });
  });

  it('knows a principal attached once the record holds it, so a retried rollback still reports it detached', () => {
    const attached = { ...base, certificateArn: certificate, status: 'REGISTERED' as const };
    expect(planRollback({ ...attached, prior: { thingExisted: false, principalAttached: false } }, false).knownAttached).toEqual([
      certificate,
    ]);
    expect(planRollback({ ...attached, prior: { thingExisted: true, principalAttached: false } }, false).knownAttached).toEqual([
      certificate,
    ]);
    // Attached before this execution: not this rollback's to detach, so not reported either.
    expect(planRollback({ ...attached, prior: { thingExisted: true, principalAttached: true } }, false).knownAttached).toEqual([]);
  });

  it('touches nothing when it does not know what existed before', () => {
    expect(planRollback(base, false)).toEqual({ deleteThing: false, detachPrincipals: [], knownAttached: [] });
  });

  it('deletes a certificate only when this execution issued it', () => {
    const issued = {
      ...base,
      principal: undefined,
      certificateArn: certificate,
      certificateCreated: true,
      prior: { thingExisted: false, principalAttached: false },
    };
    expect(planRollback(issued, false)).toEqual({
      deleteThing: true,
      detachPrincipals: [],
      knownAttached: [certificate],
      deleteCertificate: certificate,
    });
    expect(planRollback({ ...issued, certificateCreated: false }, false).deleteCertificate).toBeUndefined();
  });

  it('retires every certificate on a thing it created with a CSR template, and on no other thing', () => {
    const registering = { ...base, principal: undefined, status: 'PENDING' as const };
    expect(planRollback({ ...registering, prior: { thingExisted: false, principalAttached: false } }, true).retireEveryCertificate).toBe(
      true,
    );
    expect(
      planRollback({ ...registering, prior: { thingExisted: true, principalAttached: false } }, true).retireEveryCertificate,
    ).toBeUndefined();
    expect(
      planRollback({ ...registering, prior: { thingExisted: false, principalAttached: false } }, false).retireEveryCertificate,
    ).toBeUndefined();
  });

  it('gives an attachment that existed before with another type its type back, and detaches nothing', () => {
    const converted = { ...base, prior: { thingExisted: true, principalAttached: true, principalType: 'NON_EXCLUSIVE_THING' as const } };
    expect(planRollback(converted, false)).toEqual({
      deleteThing: false,
      detachPrincipals: [],
      knownAttached: [],
      restoreAttachment: { principal: certificate, thingPrincipalType: 'NON_EXCLUSIVE_THING' },
    });
    expect(firstRollbackCalls(converted, planRollback(converted, false))).toEqual([
      { call: 'restoreAttachment', principal: certificate, thingPrincipalType: 'NON_EXCLUSIVE_THING' },
    ]);
  });

  it('reports a rollback given up after its retries as incomplete, claiming nothing undone', () => {
    const cause = JSON.stringify({ errorType: 'ThrottlingException', errorMessage: 'Rate exceeded', trace: [] });
    expect(abandonedRollback({ Error: 'ThrottlingException', Cause: cause })).toEqual({
      detachedPrincipals: [],
      thingDeleted: false,
      certificateDeleted: false,
      incomplete: { step: 'rollback', code: 'ThrottlingException', message: 'the rollback gave up after its retries: Rate exceeded' },
    });
    expect(abandonedRollback({ Error: 'States.Timeout' }).incomplete?.message).toBe('the rollback gave up after its retries');
  });

  it('claims, for a rollback given up on, what the calls before the failing one undid', () => {
    const undone = { detachedPrincipals: [certificate], thingDeleted: false, certificateDeleted: false };
    expect(abandonedRollback({ Error: 'ThrottlingException' }, undone)).toMatchObject({
      ...undone,
      incomplete: { code: 'ThrottlingException' },
    });
  });

  it('names the step that failed from how far the record got', () => {
    expect(failedStep(undefined)).toBe('inspect');
    expect(failedStep(base)).toBe('register');
    expect(failedStep({ ...base, thingArn: 'arn' })).toBe('attach');
    expect(failedStep({ ...base, thingArn: 'arn', status: 'REGISTERED' })).toBe('associate');
  });

  it('reads the message out of a Lambda error cause', () => {
    const cause = JSON.stringify({ errorType: 'InvalidRequestException', errorMessage: 'bad principal', trace: [] });
    expect(failureOf({ device: base, failure: { Error: 'InvalidRequestException', Cause: cause } })).toEqual({
      step: 'register',
      code: 'InvalidRequestException',
      message: 'bad principal',
    });
    expect(failureOf({ device: undefined, failure: { Error: 'States.Timeout', Cause: 'timed out' } }).message).toBe('timed out');
  });
});

describe('rollback calls', () => {
  const created = {
    ...base,
    status: 'REGISTERED' as const,
    thingArn: 'arn',
    certificateArn: certificate,
    prior: { thingExisted: false, principalAttached: false },
  };
  const issued = `arn:aws:iot:us-east-1:000000000000:cert/${'d'.repeat(64)}`;

  it('lists the principals of a thing it created first, disassociating it before when its association failed', () => {
    const plan = planRollback(created, false);
    expect(firstRollbackCalls(created, plan)).toEqual([{ call: 'listPrincipals' }]);
    const unassociated = {
      ...created,
      status: 'FAILED' as const,
      error: { step: 'associate' as const, code: 'InvalidRequestException', message: 'refused' },
    };
    expect(firstRollbackCalls(unassociated, plan)).toEqual([{ call: 'disassociate' }, { call: 'listPrincipals' }]);
  });

  it('detaches every principal the listing finds, then deletes the thing; a thing that is gone needs no delete', () => {
    const plan = planRollback(created, false);
    expect(callsAfterListing(plan, [certificate])).toEqual([{ call: 'detach', principal: certificate }, { call: 'deleteThing' }]);
    expect(callsAfterListing(plan, undefined)).toEqual([]);
  });

  it('retires a certificate this execution issued, INACTIVE before it is detached, even when the thing is gone', () => {
    const plan = planRollback({ ...created, principal: undefined, certificateArn: issued, certificateCreated: true }, false);
    const retire = [
      { call: 'deactivateCertificate', principal: issued },
      { call: 'detach', principal: issued },
      { call: 'deleteCertificate', principal: issued },
    ];
    expect(callsAfterListing(plan, [issued])).toEqual([...retire, { call: 'deleteThing' }]);
    expect(callsAfterListing(plan, undefined)).toEqual(retire);
  });

  it('retires every certificate on a thing it created with a CSR template, and only detaches any other principal', () => {
    const plan = planRollback({ ...created, principal: undefined, certificateArn: undefined }, true);
    const cognito = 'us-east-1:0000-identity';
    expect(callsAfterListing(plan, [issued, cognito]).map(({ call }) => call)).toEqual([
      'deactivateCertificate',
      'detach',
      'deleteCertificate',
      'detach',
      'deleteThing',
    ]);
  });

  it('on a thing that existed before, detaches only the principal this execution attached', () => {
    const existing = { ...created, prior: { thingExisted: true, principalAttached: false } };
    expect(firstRollbackCalls(existing, planRollback(existing, false))).toEqual([{ call: 'detach', principal: certificate }]);
  });
});
