import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaRegistry, type LambdaRegistry } from '../../../../local-cloud/lambda/lambda-registry.ts';
import { loadServerlessProject } from '../../../../local-cloud/lambda/serverless-project.ts';
import { stateMachineArnResolver } from '../../../../local-cloud/services/stepfunctions/index.ts';
import { FIXTURE_SERVERLESS_PATH } from '../../../support/fixture-project.ts';

describe('local Lambda runtime', () => {
  let lambdas: LambdaRegistry;

  beforeAll(async () => {
    const project = await loadServerlessProject({ path: FIXTURE_SERVERLESS_PATH, env: {} });
    lambdas = createLambdaRegistry(project, { resolveCloudFormationValue: stateMachineArnResolver(project, '000000000000') });
  });

  it('registers every function with its handler file, export, timeout and merged string environment', () => {
    const echo = lambdas.find('echo');
    expect(echo).toMatchObject({
      deployedName: 'fixture-app-local-echo',
      arn: 'arn:aws:lambda:eu-west-1:000000000000:function:fixture-app-local-echo',
      exportName: 'handler',
      timeoutSeconds: 10,
    });
    expect(echo!.handlerFile).toMatch(/test\/fixtures\/serverless-app\/handlers\/echo\.ts$/);
    // The bucket Ref only exists on AWS and is left out; the state machine Ref gets its local ARN.
    expect(echo!.environment).toEqual({
      GREETING: 'hello-local',
      TABLE_NAME: 'fixture-app-local-table',
      FROM_ENV: 'env-default',
      MAX_ITEMS: '25',
      WORKFLOW_ARN: 'arn:aws:states:eu-west-1:000000000000:stateMachine:fixture-workflow-local',
      FUNCTION_ONLY: 'echo-only',
    });
    expect(lambdas.find('slow')!.timeoutSeconds).toBe(1);
    expect(lambdas.find('fixture-app-local-flaky')?.name).toBe('flaky');
  });

  it('invokes the handler with the function environment and a Lambda context', async () => {
    await expect(lambdas.invoke('echo', { hello: 'world' })).resolves.toEqual({
      hello: 'world',
      functionName: 'fixture-app-local-echo',
      greeting: 'hello-local',
      functionOnly: 'echo-only',
    });
  });

  describe('the region and credentials every Lambda environment has', () => {
    const variables = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
    const current = () => Object.fromEntries(variables.map((name) => [name, process.env[name]]));
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it('are the project region and local credentials when the environment has none', async () => {
      for (const name of variables) vi.stubEnv(name, undefined);
      await lambdas.invoke('echo', {});
      expect(current()).toEqual({
        AWS_REGION: 'eu-west-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      });
    });

    it('keep the developer’s own credentials, but the region is always the function’s, as Lambda sets it', async () => {
      const own = {
        AWS_REGION: 'us-west-2',
        AWS_DEFAULT_REGION: 'us-west-2',
        AWS_ACCESS_KEY_ID: 'AKIDDEV',
        AWS_SECRET_ACCESS_KEY: 'secret',
      };
      for (const [name, value] of Object.entries(own)) vi.stubEnv(name, value);
      await lambdas.invoke('echo', {});
      expect(current()).toEqual({ ...own, AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1' });
    });
  });

  it('rethrows the handler error unchanged, so its name reaches Retry and Catch', async () => {
    const error = await lambdas.invoke('reject', { reason: 'no' }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'RejectedError', message: 'no' });
  });

  it('ends an invocation that outlives the function timeout with Lambda.Unknown', async () => {
    await expect(lambdas.invoke('slow', {})).rejects.toMatchObject({
      name: 'Lambda.Unknown',
      message: expect.stringContaining('Task timed out after 1.00 seconds'),
    });
  });

  it('reports an unknown function', async () => {
    await expect(lambdas.invoke('nope', {})).rejects.toThrow('Function not found: nope');
  });
});
