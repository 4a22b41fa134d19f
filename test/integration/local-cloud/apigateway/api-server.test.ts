import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApiServer, startApiServer } from '../../../../local-cloud/apigateway/api-server.ts';
import { createLambdaRegistry } from '../../../../local-cloud/lambda/lambda-registry.ts';
import { loadServerlessProject } from '../../../../local-cloud/lambda/serverless-project.ts';
import { FIXTURE_SERVERLESS_PATH } from '../../../support/fixture-project.ts';
import { overOneConnection } from '../../../support/raw-http.ts';

describe('local HTTP API', () => {
  let api: RunningApiServer;

  beforeAll(async () => {
    const project = await loadServerlessProject({ path: FIXTURE_SERVERLESS_PATH, env: {} });
    api = await startApiServer({ project, lambdas: createLambdaRegistry(project), port: 0 });
  });

  afterAll(() => api.close());

  it('declares one route per http event of serverless.yml', () => {
    expect(api.routes.map((route) => `${route.method} ${route.resource}`)).toEqual([
      'GET /items/{itemId}',
      'GET /items/special',
      'POST /items',
      'ANY /files/{path+}',
    ]);
  });

  it('builds a REST API proxy event with path parameters, query, headers and stage', async () => {
    const response = await fetch(`${api.url}/items/a%20b?limit=5`, { headers: { 'X-Custom': 'yes' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-fixture')).toBe('http');
    expect(await response.json()).toEqual({
      httpMethod: 'GET',
      path: '/items/a%20b',
      resource: '/items/{itemId}',
      pathParameters: { itemId: 'a b' },
      queryStringParameters: { limit: '5' },
      body: null,
      stage: 'local',
      requestContextPath: '/local/items/a%20b',
      customHeader: 'yes',
    });
  });

  it('also serves the paths under the stage prefix of an API Gateway invoke URL', async () => {
    const body = (await (await fetch(`${api.url}/local/items/7`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ path: '/items/7', pathParameters: { itemId: '7' }, requestContextPath: '/local/items/7' });
  });

  it('prefers a literal segment over a path parameter', async () => {
    const body = (await (await fetch(`${api.url}/items/special`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ resource: '/items/special', pathParameters: null, queryStringParameters: null });
  });

  it('passes an over-long path parameter to the handler', async () => {
    const body = (await (await fetch(`${api.url}/items/${'x'.repeat(300)}`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ pathParameters: { itemId: 'x'.repeat(300) } });
  });

  it('passes the request body and the handler status code through', async () => {
    const response = await fetch(`${api.url}/items`, {
      method: 'POST',
      body: '{"name":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ httpMethod: 'POST', body: '{"name":"x"}', pathParameters: null });
  });

  it('matches a greedy path parameter for any method', async () => {
    const response = await fetch(`${api.url}/files/a/b/c.txt`, { method: 'DELETE' });
    expect(await response.json()).toMatchObject({ httpMethod: 'DELETE', pathParameters: { path: 'a/b/c.txt' } });
  });

  it('answers an unknown path or method like API Gateway: 403 Missing Authentication Token', async () => {
    for (const [path, method] of [
      ['/nothing-here', 'GET'],
      ['/items', 'GET'],
      ['/items/1', 'PUT'],
    ] as const) {
      const response = await fetch(`${api.url}${path}`, { method });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ message: 'Missing Authentication Token' });
    }
  });

  it('answers a body over API Gateway’s 10 MiB with 413 and keeps the connection usable', async () => {
    await overOneConnection(async (send) => {
      expect((await send(`${api.url}/items`, { method: 'POST', body: Buffer.alloc(11 * 1024 * 1024, ' ') })).status).toBe(413);
      expect(await send(`${api.url}/items/special`)).toMatchObject({ status: 200, reusedSocket: true });
    });
  });

  it('answers a URL longer than Node reads with 414 and a JSON error body, not a bare status line', async () => {
    for (const length of [17 * 1024, 100 * 1024]) {
      const response = await fetch(`${api.url}/items/1?pad=${'x'.repeat(length)}`);
      expect(response.status).toBe(414);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ message: expect.stringMatching(/^the URL is longer than the \d+ bytes this server reads$/) });
    }
  });

  it('answers headers larger than Node reads with 431 and a JSON error body', async () => {
    const response = await fetch(`${api.url}/items/1`, { headers: { 'x-padding': 'x'.repeat(17 * 1024) } });
    expect(response.status).toBe(431);
    expect(await response.json()).toEqual({
      message: expect.stringMatching(/^the headers take more than the \d+ bytes this server reads$/),
    });
  });

  it('turns a malformed Lambda proxy response into a 502', async () => {
    const response = await fetch(`${api.url}/items/1?malformed=yes`);
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ message: 'Internal server error' });
  });
});
