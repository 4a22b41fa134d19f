/**
 * What every figure needs: this service deployed in a local cloud on 127.0.0.1 with its local HTTP API,
 * certificates and a fleet to provision, the fleet CLI's submission path, and the checks that read the
 * local cloud's state and counters.
 */
import { CreateKeysAndCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { type HistoryEvent, paginateGetExecutionHistory, SFNClient } from '@aws-sdk/client-sfn';
import pLimit from 'p-limit';
import { type Backoff, createFleetApi } from '../cli/api-client.ts';
import { runFleet } from '../cli/fleet-run.ts';
import { planRequests } from '../cli/plan.ts';
import { newRun } from '../cli/resume.ts';
import type { DeviceResult, PlannedDevice } from '../functions/contract.ts';
import { PROVISIONING, type RequestOptions } from '../functions/contract.ts';
import {
  type FaultSettingsPatch,
  type OperationCounters,
  type RunningApiServer,
  type ServiceCloud,
  type StateSnapshot,
  startApiServer,
  startServiceCloud,
} from '../local-cloud/index.ts';

export interface BenchCloudOptions {
  timeScale: number;
  faults: FaultSettingsPatch;
  coreDevices: readonly string[];
  /** serverless.yml's local stage reads these when the project is loaded (REGISTER_THING_TPS, DEVICE_STEP_SECONDS, …). */
  environment?: Record<string, string>;
}

export interface BenchCloud {
  service: ServiceCloud;
  api: RunningApiServer;
  iot: IoTClient;
  sfn: SFNClient;
  clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  close(): Promise<void>;
}

export async function startBenchCloud(options: BenchCloudOptions): Promise<BenchCloud> {
  // One warning line per throttled attempt and an EMF line per throttle metric would cost more than the work measured.
  Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true', ...options.environment });
  const service = await startServiceCloud({
    host: '127.0.0.1',
    port: 0,
    timeScale: options.timeScale,
    faults: options.faults,
    coreDevices: options.coreDevices.map((coreDeviceThingName) => ({ coreDeviceThingName })),
    // The fleet's certificates are set-up, not what is measured: EC keys make it in a fraction of RSA's time.
    keyAlgorithm: 'ec-p256',
  });
  // What Lambda's environment gives the handlers, which run in this process.
  process.env.AWS_REGION = service.project.region;
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  const api = await startApiServer({ project: service.project, lambdas: service.lambdas, host: '127.0.0.1', port: 0 });
  const clientConfig = {
    endpoint: service.url,
    region: service.project.region,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  };
  const iot = new IoTClient(clientConfig);
  const sfn = new SFNClient(clientConfig);
  return {
    service,
    api,
    iot,
    sfn,
    clientConfig,
    async close() {
      iot.destroy();
      sfn.destroy();
      await api.close();
      await service.close();
    },
  };
}

/** RegisterThing's default quota (requests a second), which binds a fleet first. */
export const REGISTER_THING_DEFAULT_TPS = 10;

/** The pacing's inputs for the local cloud at the default quotas × `scale`, so that the pacing sees the quotas the local cloud enforces. */
export function scaledQuotaEnvironment(scale: number): Record<string, string> {
  return {
    REGISTER_THING_TPS: String(REGISTER_THING_DEFAULT_TPS * scale),
    ATTACH_THING_PRINCIPAL_TPS: String(100 * scale),
    DESCRIBE_THING_TPS: String(350 * scale),
  };
}

export interface FleetDevice {
  thingName: string;
  principal: string;
  coreDeviceThingName: string;
}

export function coreDeviceNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `bench-core-${String(index).padStart(2, '0')}`);
}

/**
 * `count` devices with fresh certificates, spread over the core devices in contiguous blocks, as a
 * manifest usually lists a gateway's devices together. Made before the quotas apply: setting up is not measured.
 */
export async function createFleet(cloud: BenchCloud, prefix: string, count: number, cores: readonly string[]): Promise<FleetDevice[]> {
  const perCore = Math.ceil(count / cores.length);
  return pLimit(32).map(
    Array.from({ length: count }, (_, index) => index),
    async (index) => {
      const { certificateArn } = await cloud.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      return {
        thingName: `${prefix}-${String(index).padStart(5, '0')}`,
        principal: certificateArn!,
        coreDeviceThingName: cores[Math.floor(index / perCore)]!,
      };
    },
  );
}

export interface FleetRun {
  seconds: number;
  devices: DeviceResult[];
  executionArns: string[];
}

/** Polls every 100 ms: the CLI's default backoff (250 ms doubling to 1 s) would add up to a second to a 10-second run. */
const BENCH_POLL_BACKOFF: Backoff = { initialMs: 100, maxMs: 100 };

/**
 * The fleet CLI's path (`iot-provision`): the manifest split into requests of at most 200 devices,
 * `concurrency` requests in flight, each submitted and followed through the local HTTP API.
 */
export async function provisionThroughApi(
  cloud: BenchCloud,
  devices: readonly FleetDevice[],
  options: { concurrency: number; requestOptions?: Partial<RequestOptions> },
): Promise<FleetRun> {
  const planned: PlannedDevice[] = devices.map((device, index) => ({ index, where: `devices[${index}]`, device }));
  const requestOptions: RequestOptions = { thingPrincipalType: 'EXCLUSIVE_THING', rollbackOnFailure: true, ...options.requestOptions };
  const plan = planRequests({ workflow: PROVISIONING, options: requestOptions, devices: planned }, newRun().runId);
  const executionArns: string[] = [];
  const api = createFleetApi({ apiUrl: new URL(cloud.api.url), workflow: PROVISIONING });
  const recordingApi = {
    ...api,
    async submit(request: Parameters<typeof api.submit>[0]) {
      const accepted = await api.submit(request);
      if (accepted.ok) executionArns.push(accepted.value.executionArn);
      return accepted;
    },
  };
  const started = performance.now();
  const result = await runFleet(plan, {
    api: recordingApi,
    state: new Map(),
    recordFinished: async () => {},
    startProgress: () => ({ running() {}, settle() {}, stop() {} }),
    concurrency: options.concurrency,
    pollBackoff: BENCH_POLL_BACKOFF,
  });
  return { seconds: (performance.now() - started) / 1000, devices: result.devices, executionArns };
}

/**
 * Devices not fully provisioned: no PROVISIONED outcome, or not present, attached to their certificate
 * and associated with their core device in the local cloud's state.
 */
export function lostDevices(devices: readonly FleetDevice[], snapshot: StateSnapshot, provisioned: ReadonlySet<string>): number {
  const things = new Set(snapshot.things.map((thing) => thing.thingName));
  const associated = new Set(
    Object.entries(snapshot.associations).flatMap(([core, clients]) => clients.map((client) => `${core}/${client.thingName}`)),
  );
  return devices.filter((device) => {
    const certificateId = device.principal.slice(device.principal.lastIndexOf('/') + 1);
    const attached = (snapshot.thingPrincipals[device.thingName] ?? []).some(
      (link) => link.principal === certificateId && link.detachedAt === undefined,
    );
    return !(
      provisioned.has(device.thingName) &&
      things.has(device.thingName) &&
      attached &&
      associated.has(`${device.coreDeviceThingName}/${device.thingName}`)
    );
  }).length;
}

export function provisionedNames(run: FleetRun): Set<string> {
  return new Set(run.devices.filter(({ outcome }) => outcome.status === 'PROVISIONED').map(({ outcome }) => outcome.thingName));
}

/**
 * The calls the service makes besides IoT and Greengrass, which the local cloud counts too: Step Functions, the
 * device leases and cancel markers (DynamoDB) and the completion events (EventBridge). The registry figure counts
 * IoT and Greengrass only, whose quotas bound a fleet.
 */
const OTHER_SERVICES_OPERATIONS = new Set([
  'ListStateMachines',
  'DescribeStateMachine',
  'StartExecution',
  'DescribeExecution',
  'ListExecutions',
  'GetExecutionHistory',
  'StopExecution',
  'TransactWriteItems',
  'GetItem',
  'PutItem',
  'DeleteItem',
  'PutEvents',
]);

export interface RegistryCalls {
  calls: number;
  throttled: number;
  byOperation: Record<string, number>;
}

export function registryCalls(metrics: Record<string, OperationCounters>): RegistryCalls {
  const registry = Object.entries(metrics).filter(([operation]) => !OTHER_SERVICES_OPERATIONS.has(operation));
  return {
    calls: registry.reduce((sum, [, counters]) => sum + counters.calls, 0),
    throttled: registry.reduce((sum, [, counters]) => sum + counters.throttled, 0),
    byOperation: Object.fromEntries(registry.map(([operation, counters]) => [operation, counters.calls])),
  };
}

export interface HistoryCounts {
  /** `*StateEntered` events: the state transitions as this benchmark counts them. */
  statesEntered: number;
  /** Attempts (Lambda invocations, service integration calls) beyond the first of each Task: retries, which AWS bills as transitions too. */
  retries: number;
  /** Milliseconds from LambdaFunctionStarted to its Succeeded/Failed/TimedOut event, summed. */
  lambdaMs: number;
  lambdaInvocations: number;
}

export function countHistory(events: readonly HistoryEvent[]): HistoryCounts {
  const started = new Map<number, number>();
  let statesEntered = 0;
  let taskEntered = 0;
  let lambdaInvocations = 0;
  let integrationCalls = 0;
  let lambdaMs = 0;
  for (const event of events) {
    const type = event.type ?? '';
    const at = event.timestamp?.getTime() ?? 0;
    if (type.endsWith('StateEntered')) statesEntered += 1;
    if (type === 'TaskStateEntered') taskEntered += 1;
    if (type === 'LambdaFunctionScheduled') lambdaInvocations += 1;
    if (type === 'TaskScheduled') integrationCalls += 1;
    if (type === 'LambdaFunctionStarted') started.set(event.id ?? 0, at);
    const begin = started.get(event.previousEventId ?? -1);
    if (begin !== undefined && /^LambdaFunction(Succeeded|Failed|TimedOut)$/.test(type)) lambdaMs += at - begin;
  }
  return { statesEntered, retries: lambdaInvocations + integrationCalls - taskEntered, lambdaMs, lambdaInvocations };
}

export async function executionHistory(client: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client }, { executionArn })) events.push(...(page.events ?? []));
  return events;
}

export async function historyCounts(cloud: BenchCloud, executionArns: readonly string[]): Promise<HistoryCounts> {
  const counts = await Promise.all(executionArns.map(async (arn) => countHistory(await executionHistory(cloud.sfn, arn))));
  const none: HistoryCounts = { statesEntered: 0, retries: 0, lambdaMs: 0, lambdaInvocations: 0 };
  return counts.reduce(
    (total, next) => ({
      statesEntered: total.statesEntered + next.statesEntered,
      retries: total.retries + next.retries,
      lambdaMs: total.lambdaMs + next.lambdaMs,
      lambdaInvocations: total.lambdaInvocations + next.lambdaInvocations,
    }),
    none,
  );
}
