import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORCHESTRATED_REQUEST_TIMEOUT_MS } from '../../../functions/aws/clients/orchestrated.ts';
import { createLambdaRegistry } from '../../../local-cloud/lambda/lambda-registry.ts';
import { loadServerlessProject } from '../../../local-cloud/lambda/serverless-project.ts';
import { lambdaContext, sensorTaskInput } from '../../support/task-fixtures.ts';

/**
 * An IoT endpoint that accepts the connection and never answers. Lambda's own timeout is not retried by
 * the state machines, so the task must fail before it, under a name their Retry matches.
 */
describe('a task whose AWS call never answers', () => {
  let silentEndpoint: Server;

  beforeAll(async () => {
    silentEndpoint = createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((resolve) => silentEndpoint.once('listening', resolve));
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_IOT: `http://127.0.0.1:${(silentEndpoint.address() as AddressInfo).port}`,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
  });
  afterAll(() => {
    silentEndpoint.closeAllConnections();
    silentEndpoint.close();
  });

  it('gives up on the call itself, as a TransientServiceError that the state machine retries', async () => {
    const { handler } = await import('../../../functions/inspect-thing.ts');
    // Far more time than the test's own timeout: only the client's request timeout can end this call.
    await expect(handler(sensorTaskInput, lambdaContext(600_000))).rejects.toMatchObject({
      name: 'TransientServiceError',
      message: expect.stringMatching(/^TimeoutError: .*requestTimeout/),
    });
  });

  it('ends the invocation just before its deadline, under the same retried name, when the deadline comes first', async () => {
    const { handler } = await import('../../../functions/inspect-thing.ts');
    await expect(handler(sensorTaskInput, lambdaContext(200))).rejects.toMatchObject({ name: 'TransientServiceError' });
  });

  it('gives up on the call with time to spare in every function of every stage', async () => {
    const { config } = await loadServerlessProject({ env: {} });
    const stages = Object.keys(config.params as Record<string, unknown>).filter((stage) => stage !== 'default');
    for (const stage of stages) {
      for (const fn of createLambdaRegistry(await loadServerlessProject({ stage, env: {} })).functions.values()) {
        expect(fn.timeoutSeconds * 1000, `${stage}: ${fn.name}`).toBeGreaterThanOrEqual(2 * ORCHESTRATED_REQUEST_TIMEOUT_MS);
      }
    }
  });
});
