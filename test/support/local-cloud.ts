import { SFNClient } from '@aws-sdk/client-sfn';
import { LOCAL_ACCOUNT_ID } from '../../local-cloud/config.ts';
import { createLambdaRegistry, type LambdaRegistry } from '../../local-cloud/lambda/lambda-registry.ts';
import { loadServerlessProject } from '../../local-cloud/lambda/serverless-project.ts';
import { createLocalCloud } from '../../local-cloud/server.ts';
import {
  createStepFunctionsService,
  type StepFunctionsService,
  stateMachineArnResolver,
} from '../../local-cloud/services/stepfunctions/index.ts';

export interface StepFunctionsCloud {
  url: string;
  client: SFNClient;
  service: StepFunctionsService;
  /** Names of the functions the executions have invoked, in order. */
  invoked: string[];
  close(): Promise<void>;
}

/** A local cloud on a free port with the Step Functions service of a `serverless.yml` mounted. */
export async function startStepFunctionsCloud(options: {
  serverlessPath: string;
  timeScale: number;
  region?: string;
  /** Keeps the executions in this SQLite file, as a data dir's `executions.sqlite`; a temporary database when absent. */
  databasePath?: string;
}): Promise<StepFunctionsCloud> {
  const project = await loadServerlessProject({ path: options.serverlessPath, env: {} });
  const registry = createLambdaRegistry(project, { resolveCloudFormationValue: stateMachineArnResolver(project, LOCAL_ACCOUNT_ID) });
  const invoked: string[] = [];
  const lambdas: LambdaRegistry = {
    ...registry,
    invoke(name, event) {
      invoked.push(name);
      return registry.invoke(name, event);
    },
  };
  let url = '';
  const service = createStepFunctionsService({
    project,
    lambdas,
    timeScale: options.timeScale,
    cloudUrl: () => url,
    ...(options.databasePath !== undefined && { databasePath: options.databasePath }),
  });
  const cloud = await createLocalCloud({ port: 0, services: () => [service] });
  url = cloud.url;
  const client = new SFNClient({
    endpoint: cloud.url,
    region: options.region ?? project.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    url: cloud.url,
    client,
    service,
    invoked,
    async close() {
      client.destroy();
      await cloud.close();
    },
  };
}
