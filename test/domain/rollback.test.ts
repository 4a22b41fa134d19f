import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../functions/domain/records.ts';
import { failedStep, failureOf, planRollback } from '../../functions/domain/rollback.ts';

const certificate = `arn:aws:iot:us-east-1:000000000000:cert/${'c'.repeat(64)}`;
const base: DeviceRecord = { thingName: 't', coreDeviceThingName: 'core', status: 'PENDING', principal: certificate };

describe('rollback planning', () => {
  it('deletes a thing this execution created', () => {
    expect(planRollback({ ...base, prior: { thingExisted: false, principalAttached: false } })).toEqual({ deleteThing: true, detachPrincipals: [] });
  });

  it('never deletes a thing that existed before, and detaches only a principal it attached', () => {
    expect(planRollback({ ...base, prior: { thingExisted: true, principalAttached: false } })).toEqual({ deleteThing: false, detachPrincipals: [certificate] });
    expect(planRollback({ ...base, prior: { thingExisted: true, principalAttached: true } })).toEqual({ deleteThing: false, detachPrincipals: [] });
  });

  it('touches nothing when it does not know what existed before', () => {
    expect(planRollback(base)).toEqual({ deleteThing: false, detachPrincipals: [] });
  });

  it('deletes a certificate only when this execution issued it', () => {
    const issued = { ...base, principal: undefined, certificateArn: certificate, certificateCreated: true, prior: { thingExisted: false, principalAttached: false } };
    expect(planRollback(issued)).toEqual({ deleteThing: true, detachPrincipals: [], deleteCertificate: certificate });
    expect(planRollback({ ...issued, certificateCreated: false }).deleteCertificate).toBeUndefined();
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
