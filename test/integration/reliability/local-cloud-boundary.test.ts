import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';

/**
 * The local cloud's HTTP boundary under random and malformed requests: any route of IoT, Greengrass V2
 * and Step Functions (and some that are none), odd path segments, queries, headers and bodies. With
 * no faults injected nothing may answer 5xx, the server must keep serving, and every error must come
 * in the service's own shape: `x-amzn-ErrorType` and a JSON body with a `message`.
 */
describe('local cloud HTTP boundary', () => {
  let cloud: TestServiceCloud;
  beforeAll(async () => {
    cloud = await startTestServiceCloud();
  });
  afterAll(() => cloud.close());

  const printable = (maxLength: number) =>
    fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength });
  const segment = fc.oneof(
    fc.constantFrom('core-a', 'no-such-thing', '', '%E0%A4%A', '%00', '..', 'a'.repeat(200)),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
    fc.string({ unit: 'grapheme', maxLength: 5 }),
  );
  const iotPaths = [
    '/things',
    '/things/{}',
    '/things/{}/principals',
    '/things/{}/principals-v2',
    '/keys-and-certificate',
    '/certificates/{}',
    '/policies/{}',
  ];
  const greengrassPaths = [
    '/greengrass/v2/coreDevices',
    '/greengrass/v2/coreDevices/{}',
    '/greengrass/v2/coreDevices/{}/associateClientDevices',
    '/greengrass/v2/coreDevices/{}/disassociateClientDevices',
    '/greengrass/v2/coreDevices/{}/associatedClientDevices',
  ];
  const path = fc.oneof(
    fc
      .tuple(fc.constantFrom(...iotPaths, ...greengrassPaths, '/', '/unknown/route'), segment)
      .map(([template, value]) => template.replace('{}', value)),
    printable(40).map((text) => `/${encodeURI(text)}`),
  );
  const query = fc
    .dictionary(
      fc.constantFrom(
        'maxResults',
        'nextToken',
        'thingPrincipalType',
        'expectedVersion',
        'setAsActive',
        'newStatus',
        'forceDelete',
        'status',
      ),
      printable(12),
      { maxKeys: 3 },
    )
    .map((entries) => new URLSearchParams(entries).toString());
  const stepFunctionsTarget = fc.oneof(
    fc
      .constantFrom(
        'StartExecution',
        'DescribeExecution',
        'ListExecutions',
        'GetExecutionHistory',
        'StopExecution',
        'ListStateMachines',
        'DescribeStateMachine',
      )
      .map((op) => `AWSStepFunctions.${op}`),
    printable(30),
  );
  const body = fc.oneof(
    fc.constant(''),
    printable(60),
    fc.json({ maxDepth: 3 }),
    fc
      .record(
        {
          entries: fc.oneof(fc.array(fc.record({ thingName: fc.string({ maxLength: 140 }) }), { maxLength: 110 }), fc.jsonValue()),
          templateBody: fc.oneof(fc.string(), fc.json()),
          parameters: fc.jsonValue(),
          stateMachineArn: fc.oneof(fc.string(), fc.integer()),
          executionArn: fc.string(),
          input: fc.oneof(fc.string(), fc.json()),
          maxResults: fc.oneof(fc.integer(), fc.string()),
        },
        { requiredKeys: [] },
      )
      .map((value) => JSON.stringify(value)),
  );
  const request = fc.record({
    service: fc.constantFrom('iot', 'greengrass', 'states', 'execute-api', 'lambda'),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
    path,
    query,
    principal: fc.option(printable(80), { nil: undefined }),
    target: stepFunctionsTarget,
    body,
  });

  it("never answers 5xx, never stops serving, and errors always have the service's shape", async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ service, method, path: route, query: search, principal, target, body: payload }) => {
        const headers: Record<string, string> = {
          authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
          'content-type': service === 'states' ? 'application/x-amz-json-1.0' : 'application/json',
          ...(service === 'states' && { 'x-amz-target': target }),
          ...(principal !== undefined && { 'x-amzn-principal': principal }),
        };
        const hasBody = method !== 'GET' && payload !== '';
        const response = await fetch(`${cloud.url}${service === 'states' ? '/' : route}${search ? `?${search}` : ''}`, {
          method: service === 'states' ? 'POST' : method,
          headers,
          ...(hasBody && { body: payload }),
        });
        const text = await response.text();
        expect(response.status, text).toBeLessThan(500);
        if (response.status >= 400) {
          expect(response.headers.get('x-amzn-errortype'), text).toMatch(/^[A-Za-z.]+/);
          const parsed = JSON.parse(text) as { message?: unknown };
          expect(typeof parsed.message, text).toBe('string');
        }
      }),
      { numRuns: 400 },
    );
    const health = await fetch(`${cloud.url}/_local/health`);
    expect(health.status).toBe(200);
  });
});
