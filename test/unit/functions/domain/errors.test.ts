import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_ERROR_MESSAGE_CHARS } from '../../../../functions/domain/limits.ts';
import { loadServerlessProject, stateMachineDefinition } from '../../../../local-cloud/index.ts';

// Loaded afresh for each test: Stryker credits the module's top-level code (its sets of error names and codes, the
// pattern of a long quoted value) to the tests that load it, so that `npm run mutation` runs a mutant of it here.
let errors: typeof import('../../../../functions/domain/errors.ts');
beforeEach(async () => {
  vi.resetModules();
  errors = await import('../../../../functions/domain/errors.ts');
});
const boundedMessage = (message: string) => errors.boundedMessage(message);
const isUnnamedTransientFailure = (error: Parameters<typeof errors.isUnnamedTransientFailure>[0]) =>
  errors.isUnnamedTransientFailure(error);
const messageFromCause = (cause: string | undefined) => errors.messageFromCause(cause);

describe('error classification', () => {
  it.each([
    [{ name: 'Error', code: 'ECONNRESET' }, true],
    [{ name: 'TimeoutError' }, true],
    [{ name: '502', $metadata: { httpStatusCode: 502 } }, true],
    [{ name: 'SomethingNew', $retryable: { throttling: false } }, true],
    [{ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }, false],
    [{ name: 'InternalFailureException', $metadata: { httpStatusCode: 500 } }, false],
    [{ name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } }, false],
    [{ name: 'TypeError' }, false],
  ])('%j is an unnamed transient failure: %s', (error, expected) => {
    expect(isUnnamedTransientFailure(error)).toBe(expected);
  });

  it('reads the message out of a Lambda runtime cause and bounds it', () => {
    const cause = JSON.stringify({ errorType: 'X', errorMessage: 'm'.repeat(1_000), trace: ['at x'] });
    expect(messageFromCause(cause)).toHaveLength(MAX_ERROR_MESSAGE_CHARS);
    expect(messageFromCause('plain words')).toBe('plain words');
    expect(messageFromCause(JSON.stringify({ errorType: 'X', errorMessage: 'short', trace: [] }))).toBe('short');
    expect(messageFromCause(JSON.stringify({ errorType: 'X', errorMessage: 5 }))).toBe('{"errorType":"X","errorMessage":5}');
    expect(boundedMessage('short')).toBe('short');
  });

  it('cuts a long quoted value, so that the field an AWS validation message names survives the bound', () => {
    const message = `1 validation error detected: Value '${'s'.repeat(4_000)}' at 'parameters.Site' failed to satisfy constraint: Member must have length less than or equal to 800`;
    expect(boundedMessage(message)).toBe(
      `1 validation error detected: Value '${'s'.repeat(24)}…' at 'parameters.Site' failed to satisfy constraint: Membe…`,
    );
  });

  it('keeps a message within the bound whole, quotes and apostrophes included', () => {
    const message = "Execution Does Not Exist: 'arn:aws:states:us-east-1:000000000000:execution:provision:x'";
    expect(boundedMessage(message)).toBe(message);
  });

  it("names a cancelled device's error as a Catch of the provision machine names it", async () => {
    const definition = JSON.stringify(stateMachineDefinition(await loadServerlessProject(), 'provision'));
    const caught = [...definition.matchAll(/"ErrorEquals":\s*\[([^\]]*)\]/g)].flatMap((match) => JSON.parse(`[${match[1]}]`) as string[]);
    expect(caught).toContain(new errors.RequestCancelledError('cancelled').name);
  });

  it("names throttling and the services' transient errors, which the state machine retries, and nothing else", () => {
    const throttling = ['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded'];
    const transient = [
      ...throttling,
      'InternalFailureException',
      'InternalServerException',
      'ServiceUnavailableException',
      'RequestTimeoutException',
      'ConflictingResourceUpdateException',
    ];
    expect(throttling.filter(errors.isThrottlingError)).toEqual(throttling);
    expect(transient.filter(errors.isTransientError)).toEqual(transient);
    expect(['InternalFailureException', 'ValidationException', ''].filter(errors.isThrottlingError)).toEqual([]);
    expect(['ValidationException', 'ResourceNotFoundException', ''].filter(errors.isTransientError)).toEqual([]);
    const ownNames = [
      new errors.TransientServiceError('x'),
      new errors.ThingStillHasPrincipalsError('x'),
      new errors.CertificateStillAttachedError('x'),
    ].map((error) => error.name);
    expect(ownNames).toEqual(['TransientServiceError', 'ThingStillHasPrincipals', 'CertificateStillAttached']);
    expect(errors.RETRIED_ERROR_NAMES).toEqual([...transient, ...ownNames]);
  });

  it("takes DynamoDB's throttling and every network failure code as unnamed transient failures", () => {
    expect(isUnnamedTransientFailure({ name: 'ProvisionedThroughputExceededException' })).toBe(true);
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND'])
      expect(isUnnamedTransientFailure({ name: 'Error', code })).toBe(true);
    expect(isUnnamedTransientFailure({ name: 'Error', code: 'EACCES' })).toBe(false);
  });

  it('cuts a long value in double quotes too, and leaves one of 32 characters whole', () => {
    const tail = ` at 'x' failed: ${'m'.repeat(MAX_ERROR_MESSAGE_CHARS)}`;
    expect(boundedMessage(`Value "${'d'.repeat(40)}"${tail}`).startsWith(`Value "${'d'.repeat(24)}…" at 'x'`)).toBe(true);
    expect(boundedMessage(`Value '${'d'.repeat(32)}'${tail}`).startsWith(`Value '${'d'.repeat(32)}' at 'x'`)).toBe(true);
  });
});
