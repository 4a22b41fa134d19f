import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestListSchema } from '../../../functions/domain/request-listing.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';

type Answer = { statusCode: number; body: string };

/** `GET /provisioning-requests` and `GET /deprovisioning-requests`, called as API Gateway calls them, over executions in the local cloud. */
describe('listing requests', () => {
  let cloud: TestServiceCloud;
  let list: (query: Record<string, string> | null) => Promise<Answer>;
  let listDeprovisioning: (query: Record<string, string> | null) => Promise<Answer>;

  beforeAll(async () => {
    cloud = await startTestServiceCloud();
    const [provisioning, deprovisioning] = await Promise.all([
      import('../../../functions/list-provisioning-requests.ts'),
      import('../../../functions/list-deprovisioning-requests.ts'),
    ]);
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'test', awsRequestId: 'req' } as never;
    const event = (collection: string, query: Record<string, string> | null) =>
      ({
        httpMethod: 'GET',
        path: `/${collection}`,
        headers: { Host: 'api.example.com' },
        queryStringParameters: query,
        requestContext: { domainName: 'api.example.com', path: `/prod/${collection}`, stage: 'prod' },
      }) as unknown as APIGatewayProxyEvent;
    list = (query) => provisioning.handler(event('provisioning-requests', query), context) as Promise<Answer>;
    listDeprovisioning = (query) => deprovisioning.handler(event('deprovisioning-requests', query), context) as Promise<Answer>;
    for (const requestId of ['first', 'second', 'third']) {
      await cloud.provision({
        requestId,
        coreDeviceThingName: 'core-a',
        devices: [{ thingName: `${requestId}-device`, principal: await cloud.createCertificate() }],
      });
    }
  });
  afterAll(() => cloud.close());

  const page = (answer: Answer) => requestListSchema.parse(JSON.parse(answer.body));

  it('lists requests newest first, each with its execution status and where to read it', async () => {
    const answer = await list(null);
    expect(answer.statusCode).toBe(200);
    const { requests, nextToken } = page(answer);
    expect(requests.map((request) => request.requestId)).toEqual(['third', 'second', 'first']);
    expect(requests[0]).toMatchObject({
      executionStatus: 'SUCCEEDED',
      statusUrl: 'https://api.example.com/prod/provisioning-requests/third',
    });
    expect(nextToken).toBeUndefined();
    expect(page(await listDeprovisioning(null)).requests).toEqual([]);
  });

  it('filters by execution status, and pages with limit and nextToken until the last page has none', async () => {
    expect(page(await list({ status: 'RUNNING' })).requests).toEqual([]);
    const first = page(await list({ limit: '2' }));
    expect(first.requests.map((request) => request.requestId)).toEqual(['third', 'second']);
    expect(first.nextToken).toEqual(expect.any(String));
    const second = page(await list({ limit: '2', nextToken: first.nextToken as string }));
    expect(second.requests.map((request) => request.requestId)).toEqual(['first']);
    expect(second.nextToken).toBeUndefined();
  });

  it('answers 400 naming each malformed parameter, and a token the list did not give', async () => {
    const malformed = await list({ status: 'DONE', limit: '0', sort: 'asc' });
    expect(malformed.statusCode).toBe(400);
    expect(
      JSON.parse(malformed.body)
        .errors.map((error: { field: string }) => error.field)
        .sort(),
    ).toEqual(['query.limit', 'query.sort', 'query.status']);
    const foreignToken = await list({ nextToken: 'not-a-token' });
    expect(foreignToken.statusCode).toBe(400);
    expect(JSON.parse(foreignToken.body).errors).toEqual([
      { field: 'query.nextToken', reason: 'is not a token this list gave: start again without it' },
    ]);
  });
});
