import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { CreateKeysAndCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { type HistoryEvent, paginateListExecutions, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { $ZodType } from 'zod/v4/core';
import type { RequestKind, SubmitOutcome } from '../../functions/api/requests.ts';
import type { Workflow } from '../../functions/domain/device-leases.ts';
import type { RequestSummary } from '../../functions/domain/records.ts';
import { requestSummarySchema } from '../../functions/domain/request-status.ts';
import { type FaultSettingsPatch, NO_INJECTED_FAULTS } from '../../local-cloud/faults.ts';
import { type ServiceCloud, startServiceCloud } from '../../local-cloud/service-cloud.ts';
import type { KeyAlgorithm } from '../../local-cloud/services/iot/certificate-authority.ts';
import type { ThingRecord } from '../../local-cloud/store.ts';
import { type ExecutionTrace, pathCoverageDir, registerTraceSource, traceOfHistory } from './path-coverage.ts';
import { executionHistory, waitForExecution } from './step-functions.ts';

export interface TestServiceCloud extends ServiceCloud {
  iot: IoTClient;
  greengrass: GreengrassV2Client;
  sfn: SFNClient;
  dynamodb: DynamoDBClient;
  /** The endpoint, region and credentials the clients above use, for a test that needs a client of its own. */
  clientConfig: ClientConfig;
  /** The key (`thingName`) of every item in the device-leases table, sorted: the leases, cancel markers and counters. */
  leaseTableKeys(): Promise<string[]>;
  /** A fresh active certificate in the local cloud, as an operator would create one. */
  createCertificate(): Promise<string>;
  /** The things in the local cloud other than the core devices (which are things too). */
  clientThings(): ThingRecord[];
  /** Submits a request the way the API and EventBridge handlers do, then waits for its execution. */
  provision(request: unknown, options?: { timeoutMs?: number }): Promise<CompletedRequest>;
  deprovision(request: unknown, options?: { timeoutMs?: number }): Promise<CompletedRequest>;
  /** Submits a request as the API and EventBridge handlers do, and answers what they would act on. */
  submit(workflow: Workflow, request: unknown): Promise<SubmitOutcome>;
  /** Waits for an execution that a submit started. */
  completion(executionArn: string, options?: { timeoutMs?: number }): Promise<CompletedRequest>;
}

export interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface CompletedRequest {
  executionArn: string;
  status: string | undefined;
  summary: RequestSummary;
  history: HistoryEvent[];
}

/**
 * This service deployed in a local cloud on a free port, with waits and retry backoff scaled to
 * zero and the quotas off unless a test turns them on.
 */
export async function startTestServiceCloud(
  options: {
    faults?: FaultSettingsPatch;
    coreDevices?: string[];
    /** Default 0; see ServiceCloudOptions. */
    timeScale?: number;
    /** For a fleet's worth of certificates: `ec-p256` makes them in a fraction of RSA's time. */
    keyAlgorithm?: KeyAlgorithm;
  } = {},
): Promise<TestServiceCloud> {
  // The handlers' JSON logs (a warning per throttled attempt) would drown the test report.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const coreDevices = options.coreDevices ?? ['core-a', 'core-b'];
  const service = await startServiceCloud({
    port: 0,
    timeScale: options.timeScale ?? 0,
    faults: { quotas: false, ...options.faults },
    coreDevices: coreDevices.map((coreDeviceThingName) => ({ coreDeviceThingName })),
    ...(options.keyAlgorithm && { keyAlgorithm: options.keyAlgorithm }),
  });
  // What Lambda's environment gives the handlers that this test process calls directly.
  process.env.AWS_REGION = service.project.region;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.PROVISION_STATE_MACHINE_ARN = service.stateMachineArn('provision');
  process.env.DEPROVISION_STATE_MACHINE_ARN = service.stateMachineArn('deprovision');
  process.env.DEVICE_LEASES_TABLE = (
    service.project.config.provider as { environment: Record<string, string> }
  ).environment.DEVICE_LEASES_TABLE;
  const clientConfig: ClientConfig = {
    endpoint: service.url,
    region: service.project.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const iot = new IoTClient(clientConfig);
  const greengrass = new GreengrassV2Client(clientConfig);
  const sfn = new SFNClient(clientConfig);
  const dynamodb = new DynamoDBClient(clientConfig);
  // Imported once the endpoint is set, as a Lambda's module would be in its environment.
  const { deprovisioning, provisioning, submitRequest } = await import('../../functions/api/requests.ts');

  const kinds: Record<Workflow, RequestKind<$ZodType>> = { provision: provisioning, deprovision: deprovisioning };
  const completion = async (executionArn: string, timeoutMs = 20_000): Promise<CompletedRequest> => {
    const description = await waitForExecution(sfn, executionArn, { timeoutMs });
    return {
      executionArn,
      status: description.status,
      // Every run's summary must match what docs/openapi.yaml promises.
      summary: requestSummarySchema.parse(JSON.parse(description.output ?? 'null')),
      history: await executionHistory(sfn, executionArn),
    };
  };
  const run = async (kind: RequestKind<$ZodType>, request: unknown, timeoutMs?: number): Promise<CompletedRequest> => {
    const outcome = await submitRequest(kind, request);
    if (outcome.kind !== 'started') throw new Error(`request not started: ${JSON.stringify(outcome)}`);
    return completion(outcome.executionArn, timeoutMs);
  };

  const stopTracing = pathCoverageDir() ? traceExecutions(service, clientConfig) : undefined;

  return {
    ...service,
    iot,
    greengrass,
    sfn,
    dynamodb,
    clientConfig,
    async leaseTableKeys() {
      const { Items = [] } = await dynamodb.send(new ScanCommand({ TableName: process.env.DEVICE_LEASES_TABLE }));
      return Items.map((item) => item.thingName?.S ?? '').sort();
    },
    async createCertificate() {
      const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      return certificateArn as string;
    },
    clientThings: () => service.cloud.admin.state().things.filter((thing) => !coreDevices.includes(thing.thingName)),
    provision: (request, runOptions) => run(provisioning, request, runOptions?.timeoutMs),
    deprovision: (request, runOptions) => run(deprovisioning, request, runOptions?.timeoutMs),
    submit: (workflow, request) => submitRequest(kinds[workflow], request),
    completion: (executionArn, runOptions) => completion(executionArn, runOptions?.timeoutMs),
    async close() {
      stopTracing?.();
      iot.destroy();
      greengrass.destroy();
      sfn.destroy();
      dynamodb.destroy();
      await service.close();
    },
  };
}

/**
 * For `npm run paths` (path-coverage.ts): after each test, the trace of every execution of this cloud that has
 * closed since the last test. Its own client retries more than the tests' do: a test may leave faults on.
 */
function traceExecutions(service: ServiceCloud, clientConfig: ConstructorParameters<typeof SFNClient>[0]): () => void {
  const client = new SFNClient({ ...clientConfig, maxAttempts: 10 });
  const traced = new Set<string>();
  const unregister = registerTraceSource(async () => {
    const traces: ExecutionTrace[] = [];
    for (const kind of ['provision', 'deprovision'] as const) {
      for await (const page of paginateListExecutions({ client }, { stateMachineArn: service.stateMachineArn(kind) })) {
        for (const execution of page.executions ?? []) {
          const arn = execution.executionArn as string;
          if (execution.status === 'RUNNING' || traced.has(arn)) continue;
          traced.add(arn);
          traces.push(traceOfHistory(await executionHistory(client, arn)));
        }
      }
    }
    return traces;
  });
  return () => {
    unregister();
    client.destroy();
  };
}

/**
 * One service cloud for the enclosing describe block, with its state and faults reset before each
 * test. The returned object forwards to the cloud once `beforeAll` has started it.
 */
export function useServiceCloud(options: Parameters<typeof startTestServiceCloud>[0] = {}): TestServiceCloud {
  let current: TestServiceCloud | undefined;
  beforeAll(async () => {
    current = await startTestServiceCloud(options);
  });
  afterAll(() => current?.close());
  beforeEach(async () => {
    await current?.cloud.admin.reset();
    current?.cloud.admin.configureFaults({ ...NO_INJECTED_FAULTS, ...options.faults });
  });
  return new Proxy({} as TestServiceCloud, {
    get: (_, property) => {
      if (!current) throw new Error('the service cloud is used before beforeAll started it');
      return Reflect.get(current, property);
    },
  });
}

/** Events of one type, optionally only those of a named state (entered/exited events carry the name). */
export function eventsOf(history: HistoryEvent[], type: string, stateName?: string): HistoryEvent[] {
  return history.filter((event) => {
    if (event.type !== type) return false;
    if (stateName === undefined) return true;
    const details = event.stateEnteredEventDetails ?? event.stateExitedEventDetails;
    return details?.name === stateName;
  });
}

/** Errors of the failed Lambda attempts, in order. */
export function failedAttempts(history: HistoryEvent[]): string[] {
  return history
    .filter((event) => event.type === 'LambdaFunctionFailed')
    .map((event) => event.lambdaFunctionFailedEventDetails?.error ?? '');
}
