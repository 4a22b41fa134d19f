import { createServer } from 'node:net';
import { dataDirFiles, LOCAL_ACCOUNT_ID, type LocalCloudConfig } from './config.ts';
import { createLambdaRegistry, type LambdaRegistry } from './lambda/lambda-registry.ts';
import { loadServerlessProject, type ServerlessProject } from './lambda/serverless-project.ts';
import { stackBucketsOf } from './lambda/stack-buckets.ts';
import { lambdaTargetsOf, stackRulesOf } from './lambda/stack-rules.ts';
import { stackTablesOf } from './lambda/stack-tables.ts';
import { createLocalCloud, type LocalCloud } from './server.ts';
import { createStepFunctionsService, type StepFunctionsService, stateMachineArnResolver } from './services/stepfunctions/index.ts';
import { stateMachinesOf } from './services/stepfunctions/state-machine-definitions.ts';

export interface ServiceCloudOptions extends Partial<LocalCloudConfig> {
  /** 1 = AWS-faithful waits and retry backoff, 0 = none (the test suites). */
  timeScale: number;
  /** The service to deploy into the local cloud; defaults to this repository's serverless.yml. */
  serverlessPath?: string;
}

export interface ServiceCloud {
  cloud: LocalCloud;
  url: string;
  project: ServerlessProject;
  lambdas: LambdaRegistry;
  stepFunctions: StepFunctionsService;
  /** ARN of a state machine by its key in serverless.yml (`provision`, `deprovision`). */
  stateMachineArn(key: string): string;
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, host, resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * The local cloud with this service deployed in it: IoT, Greengrass V2, DynamoDB (the stack's tables), EventBridge
 * (the functions' rules) and Step Functions, whose state machines' Lambda tasks and rules' targets run the
 * service's handlers in-process. The handlers reach the cloud
 * over HTTP through `AWS_ENDPOINT_URL`, which must be known before serverless.yml is resolved: a
 * port of 0 is therefore turned into a free port first.
 */
export async function startServiceCloud(options: ServiceCloudOptions): Promise<ServiceCloud> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port === undefined || options.port === 0 ? await freePort(host) : options.port;
  const url = `http://${host}:${port}`;
  process.env.AWS_ENDPOINT_URL = url;

  const project = await loadServerlessProject({ ...(options.serverlessPath && { path: options.serverlessPath }) });
  const resolveCloudFormationValue = stateMachineArnResolver(project, LOCAL_ACCOUNT_ID);
  const lambdas = createLambdaRegistry(project, { resolveCloudFormationValue });
  const files = options.dataDir === undefined ? undefined : dataDirFiles(options.dataDir);
  const stepFunctions = createStepFunctionsService({
    project,
    lambdas,
    timeScale: options.timeScale,
    cloudUrl: () => url,
    ...(files && { databasePath: files.executionsDatabase }),
  });
  const cloud = await createLocalCloud({
    host,
    port,
    ...(files && { stateDatabase: files.stateDatabase }),
    ...(options.faults && { faults: options.faults }),
    ...(options.coreDevices && { coreDevices: options.coreDevices }),
    ...(options.keyAlgorithm && { keyAlgorithm: options.keyAlgorithm }),
    tables: stackTablesOf(project),
    buckets: stackBucketsOf(project),
    rules: stackRulesOf(project, lambdas),
    lambdaTargets: lambdaTargetsOf(project, lambdas),
    timeScale: options.timeScale,
    services: () => [stepFunctions],
  });
  return {
    cloud,
    url,
    project,
    lambdas,
    stepFunctions,
    stateMachineArn(key) {
      const machine = stateMachinesOf(project).find((candidate) => candidate.key === key);
      const arn = machine && resolveCloudFormationValue({ Ref: machine.logicalId });
      if (!arn) throw new Error(`no state machine ${key} in ${project.path}`);
      return arn;
    },
    close: () => cloud.close(),
  };
}
