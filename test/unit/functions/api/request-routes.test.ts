import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { cancelledStatusUrl, retryLater } from '../../../../functions/api/request-routes.ts';
import { ExecutionNotYetVisibleError } from '../../../../functions/aws/executions.ts';
import { TransientServiceError } from '../../../../functions/domain/errors.ts';

/** What the API answers when AWS fails a call (api/request-routes.ts retryLater): come back, or fix the endpoint. */
describe('an AWS failure answered by the API', () => {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  afterEach(() => {
    if (endpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = endpoint;
  });
  const answer = (error: Error) => {
    const response = retryLater(error);
    return { statusCode: response.statusCode, retryAfter: response.headers?.['retry-after'], message: JSON.parse(response.body).message };
  };
  const named = (name: string) => Object.assign(new Error(`${name} happened`), { name });

  it('is 429 to retry for a throttle, 503 for a 5xx, naming the AWS error; our own transient errors by their message', () => {
    expect(answer(named('ThrottlingException'))).toEqual({
      statusCode: 429,
      retryAfter: '1',
      message: 'AWS answered ThrottlingException; retry the same request (it is idempotent by requestId)',
    });
    expect(answer(named('ServiceUnavailableException'))).toEqual({
      statusCode: 503,
      retryAfter: '1',
      message: 'AWS answered ServiceUnavailableException; retry the same request (it is idempotent by requestId)',
    });
    // Step Functions names its 5xx ServiceUnavailable, a name no other service uses: the status code decides.
    const stepFunctions5xx = Object.assign(named('ServiceUnavailable'), { $metadata: { httpStatusCode: 503 } });
    expect(answer(stepFunctions5xx)).toMatchObject({
      statusCode: 503,
      message: 'AWS answered ServiceUnavailable; retry the same request (it is idempotent by requestId)',
    });
    expect(answer(new ExecutionNotYetVisibleError('not shown yet'))).toEqual({
      statusCode: 503,
      retryAfter: '1',
      message: 'not shown yet; retry the same request (it is idempotent by requestId)',
    });
    expect(answer(new TransientServiceError('leases kept cancelling'))).toMatchObject({
      statusCode: 503,
      message: 'leases kept cancelling; retry the same request (it is idempotent by requestId)',
    });
  });

  it('goes on as an error for anything else', () => {
    const denied = named('AccessDeniedException');
    expect(() => retryLater(denied)).toThrow(denied);
  });

  it('is 502 without Retry-After for an endpoint where nothing listens, naming the address it tried when no AWS_ENDPOINT_URL is set', () => {
    delete process.env.AWS_ENDPOINT_URL;
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', address: '10.0.0.1', port: 443 });
    expect(answer(refused)).toEqual({ statusCode: 502, retryAfter: undefined, message: 'cannot reach 10.0.0.1:443 (ECONNREFUSED)' });
    expect(answer(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }))).toEqual({
      statusCode: 502,
      retryAfter: undefined,
      message: 'cannot reach the AWS endpoint (ENOTFOUND)',
    });
    expect(() => retryLater(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toThrow('no such file');
  });
});

/** Where a cancel's answer sends the client (api/request-routes.ts cancelledStatusUrl): the status of what it cancelled. */
describe('the status URL a cancel answers', () => {
  it("is the cancelled id beside its collection, on the API's domain and stage, with or without a trailing slash", () => {
    const posted = (path: string, requestContext?: object) =>
      ({ headers: { Host: 'internal' }, path, ...(requestContext && { requestContext }) }) as unknown as APIGatewayProxyEvent;
    const staged = (path: string) => posted(path.replace(/^\/prod/, ''), { domainName: 'api.example.com', path });
    expect(cancelledStatusUrl(staged('/prod/provisioning-requests/r-1/cancel'), 'r-1')).toBe(
      'https://api.example.com/prod/provisioning-requests/r-1',
    );
    expect(cancelledStatusUrl(staged('/prod/fleet-runs/f-1/cancel/'), 'f-1')).toBe('https://api.example.com/prod/fleet-runs/f-1');
    expect(cancelledStatusUrl(posted('/deprovisioning-requests/r-2/cancel'), 'r-2')).toBe('https://internal/deprovisioning-requests/r-2');
    expect(cancelledStatusUrl(posted('/deprovisioning-requests/r-3/cancel', { domainName: 'api.example.com' }), 'r-3')).toBe(
      'https://api.example.com/deprovisioning-requests/r-3',
    );
  });
});
