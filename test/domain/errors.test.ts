import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { boundedMessage, isUnnamedTransientFailure, messageFromCause, RequestCancelledError } from '../../functions/domain/errors.ts';
import { MAX_ERROR_MESSAGE_CHARS } from '../../functions/domain/limits.ts';

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
    expect(boundedMessage(message)).toBe(`1 validation error detected: Value '${'s'.repeat(24)}…' at 'parameters.Site' failed to satisfy constraint: Membe…`);
  });

  it('keeps a message within the bound whole, quotes and apostrophes included', () => {
    const message = "Execution Does Not Exist: 'arn:aws:states:us-east-1:000000000000:execution:provision:x'";
    expect(boundedMessage(message)).toBe(message);
  });

  it('names a cancelled device\'s error as a Catch of the provision machine names it', () => {
    const definition = readFileSync(new URL('../../statemachines/provision.asl.json', import.meta.url), 'utf8');
    const caught = [...definition.matchAll(/"ErrorEquals":\s*\[([^\]]*)\]/g)].flatMap((match) => JSON.parse(`[${match[1]}]`) as string[]);
    expect(caught).toContain(new RequestCancelledError('cancelled').name);
  });
});
