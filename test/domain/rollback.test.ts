import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../functions/domain/records.ts';
import { abandonedRollback, failedStep, failureOf, planRollback } from '../../functions/domain/rollback.ts';

const certificate = `arn:aws:iot:us-east-1:000000000000:cert/${'c'.repeat(64)}`;
const base: DeviceRecord = { thingName: 't', coreDeviceThingName: 'core', status: 'PENDING', principal: certificate };

describe('rollback planning', () => {
  it('deletes a thing this execution created', () => {
    expect(planRollback({ ...base, prior: { thingExisted: false, principalAttached: false } }, false)).toEqual({ deleteThing: true, detachPrincipals: [], knownAttached: [] });
  });

  it('never deletes a thing that existed before, and detaches only a principal it attached', () => {
    expect(planRollback({ ...base, prior: { thingExisted: true, principalAttached: false } }, false)).toEqual({
      deleteThing: false,
      detachPrincipals: [certificate],
      knownAttached: [],
    });
    expect(planRollback({ ...base, prior: { thingExisted: true, principalAttached: true } }, false)).toEqual({ deleteThing: false, detachPrincipals: [], knownAttached: [] });
  });

  it('knows a principal attached once the record holds it, so a retried rollback still reports it detached', () => {
    const attached = { ...base, certificateArn: certificate, status: 'REGISTERED' as const };
    expect(planRollback({ ...attached, prior: { thingExisted: false, principalAttached: false } }, false).knownAttached).toEqual([certificate]);
    expect(planRollback({ ...attached, prior: { thingExisted: true, principalAttached: false } }, false).knownAttached).toEqual([certificate]);
    // Attached before this execution: not this rollback's to detach, so not reported either.
    expect(planRollback({ ...attached, prior: { thingExisted: true, principalAttached: true } }, false).knownAttached).toEqual([]);
  });

  it('touches nothing when it does not know what existed before', () => {
    expect(planRollback(base, false)).toEqual({ deleteThing: false, detachPrincipals: [], knownAttached: [] });
  });

  it('deletes a certificate only when this execution issued it', () => {
    const issued = { ...base, principal: undefined, certificateArn: certificate, certificateCreated: true, prior: { thingExisted: false, principalAttached: false } };
    expect(planRollback(issued, false)).toEqual({ deleteThing: true, detachPrincipals: [], knownAttached: [certificate], deleteCertificate: certificate });
    expect(planRollback({ ...issued, certificateCreated: false }, false).deleteCertificate).toBeUndefined();
  });

  it('retires every certificate on a thing it created with a CSR template, and on no other thing', () => {
    const registering = { ...base, principal: undefined, status: 'PENDING' as const };
    expect(planRollback({ ...registering, prior: { thingExisted: false, principalAttached: false } }, true).retireEveryCertificate).toBe(true);
    expect(planRollback({ ...registering, prior: { thingExisted: true, principalAttached: false } }, true).retireEveryCertificate).toBeUndefined();
    expect(planRollback({ ...registering, prior: { thingExisted: false, principalAttached: false } }, false).retireEveryCertificate).toBeUndefined();
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
