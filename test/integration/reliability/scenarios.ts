/**
 * The fault-injection scenarios of the reliability suite, in one place: the tests in this folder run
 * them and assert, and `npm run reliability` collects the figures each run writes (docs/reliability.md).
 *
 * Each scenario: arrange the local cloud without faults (certificates, things that already exist,
 * conflicts), turn its faults on, run one request of ≥ 100 devices over several core devices, check
 * the invariants (./invariants.ts) against state snapshots taken before and after, then stop the
 * faults, remove the cause of any permanent failure, and run the same devices again under a NEW
 * requestId. A new one because the old one is the idempotency key: re-sending it would answer the
 * finished execution instead of doing the work again. The re-run must converge: every device done.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { AttachThingPrincipalCommand, DetachThingPrincipalCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';
import { isTransientError } from '../../../functions/domain/errors.ts';
import type { RequestSummary, Step } from '../../../functions/domain/records.ts';
import { type FaultSettingsPatch, NO_INJECTED_FAULTS } from '../../../local-cloud/faults.ts';
import type { StateSnapshot } from '../../../local-cloud/store.ts';
import type { RunFigures as ReportedRunFigures, ScenarioFigures } from '../../../scripts/reliability-report.ts';
import { type CompletedRequest, eventsOf, failedAttempts, type TestServiceCloud } from '../../support/service-cloud.ts';
import { executionHistory } from '../../support/step-functions.ts';
import { checkDeprovisioning, checkProvisioning, type DeprovisioningRequestShape, type ProvisioningRequestShape } from './invariants.ts';

/** The core devices every scenario's cloud registers; devices are spread over them round-robin. */
export const CORE_DEVICES = ['core-1', 'core-2', 'core-3'];
/** A core device that is not registered until a scenario removes the cause of its failures. */
const UNREGISTERED_CORE = 'core-unregistered';
const DEVICES_PER_SCENARIO = 120;

/**
 * The scale for scenarios that need real time: the quotas refill in wall-clock time, and so does the
 * local cloud's detach propagation. 0.2 keeps the backoff curve's shape at a fifth of AWS's waits.
 */
export const REAL_TIME_SCALE = 0.2;

/**
 * The test harness observes executions through these; they are not part of the workflow under test,
 * and a throttled poll would fail the harness rather than the product. StartExecution stays faulty:
 * the product's submit path meets it, and the harness re-sends with the same key as a client would.
 */
const OBSERVER_OPERATIONS = { DescribeExecution: 0, GetExecutionHistory: 0, ListExecutions: 0 };
const everyOperation = (probability: number) => ({ '*': probability, ...OBSERVER_OPERATIONS });

/** Turns every probabilistic fault off and the quotas off: the state in which causes are arranged and removed. */
const NO_FAULTS: FaultSettingsPatch = { quotas: false, ...NO_INJECTED_FAULTS };

type Request = ProvisioningRequestShape & DeprovisioningRequestShape & { requestId: string; [field: string]: unknown };

/** Devices that must fail on the first run (a cause that retries cannot remove), and how. */
interface ExpectedFailures {
  thingNames: string[];
  step: Step;
  code: string;
}

interface Arranged {
  request: Request;
  /** One entry per cause. */
  expectedFailures?: ExpectedFailures[];
}

export interface Scenario {
  name: string;
  kind: 'provision' | 'deprovision';
  /** What it injects, for the figures table. */
  faultDescription: string;
  timeScale: 0 | typeof REAL_TIME_SCALE;
  faults: FaultSettingsPatch;
  arrange(cloud: TestServiceCloud, name: string): Promise<Arranged>;
  /** Takes away what made devices fail permanently, before the re-run. */
  removeCause?(cloud: TestServiceCloud, arranged: Arranged): Promise<void>;
  /** Failed Lambda attempts with this error must appear in the first run's history: proof the fault was met. */
  retriedError?: string;
  /** Devices may fail for random permanent faults; only their code is known in advance. */
  permanentFaultCode?: string;
  /** Retryable error entries are injected: the batch must have been called again for them. */
  redrivesEntries?: boolean;
  /**
   * Faults are so frequent that a call may spend its retries (six 5xx in a row): a device may then fail with
   * that transient error, besides the expected failures. Its rollback must still finish. The seed does not pin
   * which calls draw the faults: concurrent devices take their draws in the order the event loop sends their calls.
   */
  retriesMayRunOut?: boolean;
  /**
   * The pacing inputs of the cloud this scenario needs, when not those of its test file (real time only: the
   * local stage reads them when the cloud starts).
   */
  pacingEnvironment?: Record<string, string>;
  /** The first run is cancelled (POST …/cancel) at a seeded random point of it: see cancelAtRandomPoint. */
  cancel?: CancelPoint;
}

/**
 * Where a run is cancelled: once a number of iterations of `map` have finished, drawn with `seed` from [0, upTo).
 * The provisioning's device Map, or the deprovisioning's disassociation batches, whose first steps read the cancel.
 */
export interface CancelPoint {
  seed: number;
  map: 'ProvisionDevices' | 'DisassociateClientDevices';
  upTo: number;
}

/** A run's figures as the report reads them, and the summary the assertions check. */
export interface RunFigures extends ReportedRunFigures {
  summary: RequestSummary;
}

export interface ScenarioResult extends Omit<ScenarioFigures, 'first' | 'rerun'> {
  first: RunFigures;
  rerun: RunFigures;
  expectedFailures?: Arranged['expectedFailures'];
}

function devicesOf(name: string, principals: string[], cores = CORE_DEVICES) {
  return principals.map((principal, index) => ({
    thingName: `${name}-${String(index).padStart(3, '0')}`,
    principal,
    coreDeviceThingName: cores[index % cores.length]!,
  }));
}

async function certificates(cloud: TestServiceCloud, count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, () => cloud.createCertificate()));
}

/** A fleet of fresh devices, each with its own certificate, spread over the registered core devices. */
async function freshFleet(cloud: TestServiceCloud, name: string, count = DEVICES_PER_SCENARIO, cores = CORE_DEVICES): Promise<Request> {
  return { requestId: name, devices: devicesOf(name, await certificates(cloud, count), cores) };
}

/** A thing registered the way an earlier tool might have, with attributes of its own. */
async function preExistingThing(cloud: TestServiceCloud, thingName: string, attributes: Record<string, string>): Promise<void> {
  const templateBody = JSON.stringify({
    Parameters: { ThingName: { Type: 'String' } },
    Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: attributes } } },
  });
  await cloud.iot.send(new RegisterThingCommand({ templateBody, parameters: { ThingName: thingName } }));
}

/** Points the devices at a core device that is not registered: their association fails. */
function orphaned(devices: Request['devices']): ExpectedFailures {
  for (const device of devices) device.coreDeviceThingName = UNREGISTERED_CORE;
  return { thingNames: devices.map((device) => device.thingName), step: 'associate', code: 'ResourceNotFoundException' };
}

const ownerOf = (thingName: string) => `owner-of-${thingName}`;

/** Attaches each device's certificate EXCLUSIVE_THING to a thing of its own first: their attach fails. */
async function certificatesTaken(cloud: TestServiceCloud, devices: Request['devices']): Promise<ExpectedFailures> {
  for (const device of devices) {
    await preExistingThing(cloud, ownerOf(device.thingName), { role: 'owner' });
    await cloud.iot.send(
      new AttachThingPrincipalCommand({
        thingName: ownerOf(device.thingName),
        principal: device.principal!,
        thingPrincipalType: 'EXCLUSIVE_THING',
      }),
    );
  }
  return { thingNames: devices.map((device) => device.thingName), step: 'attach', code: 'InvalidRequestException' };
}

async function releaseCertificates(cloud: TestServiceCloud, devices: Request['devices']): Promise<void> {
  for (const device of devices)
    await cloud.iot.send(new DetachThingPrincipalCommand({ thingName: ownerOf(device.thingName), principal: device.principal! }));
}

async function registerCoreDevice(cloud: TestServiceCloud, coreDeviceThingName: string): Promise<void> {
  const response = await fetch(`${cloud.url}/_local/greengrass/core-devices`, {
    method: 'POST',
    body: JSON.stringify({ coreDeviceThingName }),
  });
  if (!response.ok) throw new Error(`registering ${coreDeviceThingName}: ${response.status} ${await response.text()}`);
}

/** A provisioning scenario over a fleet of fresh devices: only its faults differ. */
function onFreshFleet(
  scenario: Pick<Scenario, 'name' | 'faultDescription' | 'faults' | 'retriedError' | 'permanentFaultCode' | 'redrivesEntries'> & {
    timeScale?: Scenario['timeScale'];
  },
): Scenario {
  return { kind: 'provision', timeScale: 0, arrange: async (cloud, name) => ({ request: await freshFleet(cloud, name) }), ...scenario };
}

const transientFaults: Scenario[] = [
  onFreshFleet({
    name: 'throttling-30pct',
    faultDescription: 'ThrottlingException on 30% of calls to every API',
    faults: { seed: 11, throttle: everyOperation(0.3) },
    retriedError: 'ThrottlingException',
  }),
  onFreshFleet({
    name: 'server-errors-10pct',
    faultDescription: '500/503 on 10% of calls to every API',
    faults: { seed: 12, serverError: everyOperation(0.1) },
    retriedError: 'InternalFailureException',
  }),
  onFreshFleet({
    name: 'fail-after-commit-10pct',
    faultDescription: '500 after the change was committed, on 10% of calls to every API',
    faults: { seed: 13, failAfterCommit: everyOperation(0.1) },
    retriedError: 'InternalFailureException',
  }),
  onFreshFleet({
    name: 'association-entry-faults',
    faultDescription: 'BatchAssociate error entries: 10% retryable, 5% permanent',
    faults: {
      seed: 14,
      entryRetryable: { BatchAssociateClientDeviceWithCoreDevice: 0.1 },
      entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 0.05 },
    },
    permanentFaultCode: 'InvalidRequestException',
    redrivesEntries: true,
  }),
  onFreshFleet({
    name: 'aws-default-quotas',
    faultDescription: 'AWS default rate quotas (RegisterThing 10/s) in real time',
    timeScale: REAL_TIME_SCALE,
    faults: { quotas: true, quotaScale: 1 },
    retriedError: 'ThrottlingException',
  }),
];

/** Light throttling on top of a conflict, so that rollbacks meet retries too. */
const conflictFaults: FaultSettingsPatch = { seed: 21, throttle: everyOperation(0.1) };
const CONFLICTING_DEVICES = 20;

const conflicts: Scenario[] = [
  {
    name: 'unknown-core-device',
    kind: 'provision',
    faultDescription: `${CONFLICTING_DEVICES} devices name an unregistered core device; 10% throttling`,
    timeScale: 0,
    faults: conflictFaults,
    async arrange(cloud, name) {
      const request = await freshFleet(cloud, name);
      return { request, expectedFailures: [orphaned(request.devices.slice(0, CONFLICTING_DEVICES))] };
    },
    removeCause: (cloud) => registerCoreDevice(cloud, UNREGISTERED_CORE),
  },
  {
    name: 'certificate-attached-elsewhere',
    kind: 'provision',
    faultDescription: `${CONFLICTING_DEVICES} certificates already attached EXCLUSIVE_THING to other things; 10% throttling`,
    timeScale: 0,
    faults: conflictFaults,
    async arrange(cloud, name) {
      const request = await freshFleet(cloud, name);
      return { request, expectedFailures: [await certificatesTaken(cloud, request.devices.slice(0, CONFLICTING_DEVICES))] };
    },
    removeCause: (cloud, { request }) => releaseCertificates(cloud, request.devices.slice(0, CONFLICTING_DEVICES)),
  },
  {
    name: 'things-already-exist',
    kind: 'provision',
    faultDescription: `${2 * CONFLICTING_DEVICES} things exist with other attributes (half with their certificate); ${CONFLICTING_DEVICES / 2} of them fail (unregistered core); 10% throttling`,
    timeScale: 0,
    faults: conflictFaults,
    async arrange(cloud, name) {
      const request = await freshFleet(cloud, name);
      const existing = request.devices.slice(0, 2 * CONFLICTING_DEVICES);
      for (const [index, device] of existing.entries()) {
        await preExistingThing(cloud, device.thingName, { model: 'legacy', site: 'old-plant', owner: `ops-${index}` });
        if (index % 2 === 0) {
          await cloud.iot.send(
            new AttachThingPrincipalCommand({
              thingName: device.thingName,
              principal: device.principal!,
              thingPrincipalType: 'NON_EXCLUSIVE_THING',
            }),
          );
        }
      }
      // Some existing things must fail, so that their rollback proves it leaves them as they were.
      return { request, expectedFailures: [orphaned(existing.slice(0, CONFLICTING_DEVICES / 2))] };
    },
    removeCause: (cloud) => registerCoreDevice(cloud, UNREGISTERED_CORE),
  },
];

/** A fleet of the most devices a request may hold. */
const LARGEST_FLEET = 200;
const HEAVY_FAULTS_ORPHANS = 20;
const HEAVY_FAULTS_TAKEN = 15;

/**
 * Rollbacks chain several removal calls; under these rates a rollback made in one attempt almost never gets
 * through all of them (16-19 of 35 gave up when it was), while each call retried on its own does.
 */
const rollbacks: Scenario[] = [
  {
    name: 'rollbacks-under-heavy-faults',
    kind: 'provision',
    faultDescription: `${HEAVY_FAULTS_ORPHANS} devices name an unregistered core device (5 of them things that exist, their certificate attached NON_EXCLUSIVE_THING), ${HEAVY_FAULTS_TAKEN} certificates attached EXCLUSIVE_THING elsewhere; 50% throttling and 20% 5xx on every API; detach propagates in 200 ms; real time`,
    timeScale: REAL_TIME_SCALE,
    faults: { seed: 41, throttle: everyOperation(0.5), serverError: everyOperation(0.2), detachPropagationMs: 200 },
    // Quotas are not enforced here, only faults: the lanes of a raised quota (100/s, the benchmark's) keep 200
    // devices that retry in real time within the run's timeout.
    pacingEnvironment: {
      REGISTER_THING_TPS: '100',
      ATTACH_THING_PRINCIPAL_TPS: '100',
      DESCRIBE_THING_TPS: '350',
      DEVICE_STEP_SECONDS: '0.15',
    },
    async arrange(cloud, name) {
      const request = await freshFleet(cloud, name, LARGEST_FLEET);
      const orphans = request.devices.slice(0, HEAVY_FAULTS_ORPHANS);
      // Their rollback must give the attachment its type back (the request attaches EXCLUSIVE_THING).
      for (const device of orphans.slice(0, 5)) {
        await preExistingThing(cloud, device.thingName, { owner: 'ops' });
        await cloud.iot.send(
          new AttachThingPrincipalCommand({
            thingName: device.thingName,
            principal: device.principal!,
            thingPrincipalType: 'NON_EXCLUSIVE_THING',
          }),
        );
      }
      const taken = request.devices.slice(HEAVY_FAULTS_ORPHANS, HEAVY_FAULTS_ORPHANS + HEAVY_FAULTS_TAKEN);
      return { request, expectedFailures: [orphaned(orphans), await certificatesTaken(cloud, taken)] };
    },
    async removeCause(cloud, { request }) {
      await registerCoreDevice(cloud, UNREGISTERED_CORE);
      await releaseCertificates(cloud, request.devices.slice(HEAVY_FAULTS_ORPHANS, HEAVY_FAULTS_ORPHANS + HEAVY_FAULTS_TAKEN));
    },
    retriedError: 'InternalFailureException',
    // At 20% 5xx a call spends its 5 retries once in 16,000 (0.2^6 of the answers that are not throttles): with
    // about 700 calls, one run in twenty fails a device that way. A rollback's calls get 10 (rollbackTask in
    // statemachines/retry-policies.yml): one in 50 million gives up.
    retriesMayRunOut: true,
  },
];

/** Provisions the fleet without faults, then asks to remove it plus devices that are already gone. */
async function provisionedFleetToRemove(cloud: TestServiceCloud, name: string, cores = CORE_DEVICES): Promise<Arranged> {
  const fleet = await freshFleet(cloud, `${name}-fleet`, DEVICES_PER_SCENARIO, cores);
  const setup = await cloud.provision(fleet, { timeoutMs: 60_000 });
  if (setup.summary.counts.succeeded !== fleet.devices.length)
    throw new Error(`arranging ${name}: ${JSON.stringify(setup.summary.counts)}`);
  const alreadyGone = Array.from({ length: 10 }, (_, index) => ({
    thingName: `${name}-never-existed-${index}`,
    coreDeviceThingName: CORE_DEVICES[index % CORE_DEVICES.length]!,
  }));
  // Half-gone: an operator already detached these certificates by hand.
  for (const device of fleet.devices.slice(0, 10)) {
    await cloud.iot.send(new DetachThingPrincipalCommand({ thingName: device.thingName, principal: device.principal! }));
  }
  const devices = [...fleet.devices.map(({ thingName, coreDeviceThingName }) => ({ thingName, coreDeviceThingName })), ...alreadyGone];
  return { request: { requestId: name, devices } };
}

const removal: Scenario[] = [
  {
    name: 'deprovision-under-faults',
    kind: 'deprovision',
    faultDescription:
      '30% throttling, 10% 5xx, 10% fail-after-commit, BatchDisassociate entries 10% retryable / 5% permanent; 10 devices already gone, 10 detached',
    timeScale: 0,
    faults: {
      seed: 31,
      throttle: everyOperation(0.3),
      serverError: everyOperation(0.1),
      failAfterCommit: everyOperation(0.1),
      entryRetryable: { BatchDisassociateClientDeviceFromCoreDevice: 0.1 },
      entryPermanent: { BatchDisassociateClientDeviceFromCoreDevice: 0.05 },
    },
    arrange: provisionedFleetToRemove,
    retriedError: 'ThrottlingException',
    // Permanent entry faults fail their devices.
    permanentFaultCode: 'InvalidRequestException',
    redrivesEntries: true,
    // A detach of a device with a principal is two calls (list, detach), each failing transiently 13% of the time
    // (5xx, or fail-after-commit): DetachPrincipals spends its 5 retries for about one device in 600. The seed gives
    // the same draws only while the calls come in the same order, which load changes: a run may fail one that way.
    retriesMayRunOut: true,
  },
  {
    name: 'deprovision-detach-propagation',
    kind: 'deprovision',
    faultDescription: 'DetachThingPrincipal propagates in 300 ms (DeleteThing refuses until then), in real time',
    timeScale: REAL_TIME_SCALE,
    faults: { detachPropagationMs: 300 },
    arrange: provisionedFleetToRemove,
    retriedError: 'ThingStillHasPrincipals',
  },
];

/**
 * Throttling and 5xx on every API, the cancel's own calls and its marker's reads included, over the AWS default
 * quotas in real time: they hold a run for seconds, so the cancel lands while it is under way however loaded
 * the machine (with instant retries a run of 120 devices could end before the harness had sent it).
 */
const cancelFaults = (seed: number): FaultSettingsPatch => ({
  seed,
  quotas: true,
  quotaScale: 1,
  throttle: everyOperation(0.2),
  serverError: everyOperation(0.05),
});
/** Twelve core devices, so that a deprovisioning has more disassociation batches than run at once (4). */
const MANY_CORES = [...CORE_DEVICES, ...Array.from({ length: 9 }, (_, index) => `core-extra-${index + 1}`)];

/**
 * A cancel lands at a random point of a run under faults: every device must still end with exactly one outcome,
 * the NOT_STARTED ones untouched (invariants.ts), and the re-run must converge.
 */
const cancels: Scenario[] = [
  ...[51, 52, 53].map(
    (seed): Scenario => ({
      ...onFreshFleet({
        name: `cancel-provisioning-${seed}`,
        faultDescription: `cancelled at a random point (seeded) once 0-${DEVICES_PER_SCENARIO / 10 - 1} devices have finished; 20% throttling and 5% 5xx on every API; AWS default quotas (RegisterThing 10/s); in real time`,
        timeScale: REAL_TIME_SCALE,
        faults: cancelFaults(seed),
        retriedError: 'ThrottlingException',
      }),
      // Early in the run: most devices are still to start however long the harness takes to cancel on a loaded machine.
      cancel: { seed, map: 'ProvisionDevices', upTo: DEVICES_PER_SCENARIO / 10 },
      // Throttling on top of the default quotas, in real time: a call may spend its retries; the re-run converges.
      retriesMayRunOut: true,
    }),
  ),
  {
    name: 'cancel-deprovisioning',
    kind: 'deprovision',
    faultDescription: `cancelled at a random point (seeded) once 0-3 of its ${MANY_CORES.length} disassociation batches have finished; 20% throttling and 5% 5xx on every API; AWS default quotas, BatchDisassociate at 2/s; in real time`,
    timeScale: REAL_TIME_SCALE,
    // The batches must take longer than the harness takes to see one finish and cancel.
    faults: { ...cancelFaults(54), rateLimits: { BatchDisassociateClientDeviceFromCoreDevice: 2 } },
    async arrange(cloud, name) {
      for (const core of MANY_CORES.slice(CORE_DEVICES.length)) await registerCoreDevice(cloud, core);
      return provisionedFleetToRemove(cloud, name, MANY_CORES);
    },
    // Rate limits outlast a scenario: the scenarios after this one get the AWS default back.
    async removeCause(cloud) {
      cloud.cloud.admin.configureFaults({ rateLimits: { BatchDisassociateClientDeviceFromCoreDevice: 10 } });
    },
    retriedError: 'ThrottlingException',
    // Throttling on top of the default quotas, in real time: a call may spend its retries; the re-run converges.
    retriesMayRunOut: true,
    cancel: { seed: 54, map: 'DisassociateClientDevices', upTo: 4 },
  },
];

export const scenarios: Scenario[] = [...transientFaults, ...conflicts, ...rollbacks, ...removal, ...cancels];

/** As a client would: a call that fails on a transient error is sent again (a submit with the same key). */
async function retryingTransient<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (attempt >= 5 || !isTransientError((error as Error).name)) throw error;
    }
  }
}

const timeoutOf = (scenario: Scenario) => ({ timeoutMs: scenario.timeScale === 0 ? 60_000 : 120_000 });

function submit(cloud: TestServiceCloud, scenario: Scenario, request: Request): Promise<CompletedRequest> {
  return retryingTransient(() =>
    scenario.kind === 'provision' ? cloud.provision(request, timeoutOf(scenario)) : cloud.deprovision(request, timeoutOf(scenario)),
  );
}

/**
 * Starts the request, waits until the drawn number of the map's iterations have finished (or the execution has
 * ended), then cancels it through the API's handler, as a client would: again after a 429 or 503.
 */
async function submitAndCancel(cloud: TestServiceCloud, scenario: Scenario, request: Request, point: CancelPoint) {
  // Imported before the run starts, so that loading them does not delay the cancel.
  const { cancelRequestRoute } = await import('../../../functions/api/request-routes.ts');
  const kinds = await import('../../../functions/api/requests.ts');
  const started = await retryingTransient(() => cloud.submit(scenario.kind, request));
  if (started.kind !== 'started') throw new Error(`request not started: ${JSON.stringify(started)}`);
  const afterIterations = Math.floor(uniformFloat64(mersenne(point.seed)) * point.upTo);
  for (;;) {
    const history = await executionHistory(cloud.sfn, started.executionArn);
    const finished = history.filter(
      (event) => event.type === 'MapIterationSucceeded' && event.mapIterationSucceededEventDetails?.name === point.map,
    ).length;
    if (finished >= afterIterations || history.some((event) => event.type === 'ExecutionSucceeded' || event.type === 'ExecutionFailed'))
      break;
    await setTimeout(10);
  }
  const event = {
    httpMethod: 'POST',
    path: `/x/${request.requestId}/cancel`,
    pathParameters: { requestId: request.requestId },
    headers: {},
  } as unknown as APIGatewayProxyEvent;
  const kind = scenario.kind === 'provision' ? kinds.provisioning : kinds.deprovisioning;
  let answer = await cancelRequestRoute(kind, event);
  for (let attempt = 1; (answer.statusCode === 429 || answer.statusCode === 503) && attempt < 10; attempt++)
    answer = await cancelRequestRoute(kind, event);
  return {
    run: await cloud.completion(started.executionArn, timeoutOf(scenario)),
    cancel: { afterIterations, statusCode: answer.statusCode },
  };
}

function check(scenario: Scenario, request: Request, summary: RequestSummary, before: StateSnapshot, after: StateSnapshot): string[] {
  return scenario.kind === 'provision'
    ? checkProvisioning(request, summary, before, after)
    : checkDeprovisioning(request, summary, before, after);
}

async function runChecked(cloud: TestServiceCloud, scenario: Scenario, request: Request, cancelAt?: CancelPoint): Promise<RunFigures> {
  // A copy: the snapshot shares its records with the live store, which updates some in place (an attachment's type).
  const before = structuredClone(cloud.cloud.admin.state());
  const { run, cancel } = cancelAt
    ? await submitAndCancel(cloud, scenario, request, cancelAt)
    : { run: await submit(cloud, scenario, request), cancel: undefined };
  const after = cloud.cloud.admin.state();
  const attempts: Record<string, number> = {};
  for (const error of failedAttempts(run.history)) attempts[error] = (attempts[error] ?? 0) + 1;
  const { counts } = run.summary;
  return {
    succeeded: counts.succeeded,
    failed: counts.failed,
    rolledBack: counts.rolledBack,
    failedAttempts: attempts,
    redrives: eventsOf(run.history, 'WaitStateEntered').length,
    incompleteRollbacks: run.summary.devices.filter((device) => device.rollback?.incomplete).length,
    stateTransitions: run.history.filter((event) => event.type?.endsWith('StateEntered')).length,
    violations: check(scenario, request, run.summary, before, after),
    summary: run.summary,
    notStarted: counts.notStarted ?? 0,
    ...(cancel && { cancel }),
  };
}

/**
 * Runs one scenario on a cloud started with the scenario's timeScale and the core devices above.
 * The cloud is reset first, so scenarios can share one cloud in any order.
 */
export async function runScenario(cloud: TestServiceCloud, scenario: Scenario): Promise<ScenarioResult> {
  const { admin } = cloud.cloud;
  await admin.reset();
  admin.configureFaults(NO_FAULTS);
  const arranged = await scenario.arrange(cloud, scenario.name);
  const started = Date.now();

  admin.configureFaults(scenario.faults);
  admin.resetMetrics();
  const first = await runChecked(cloud, scenario, arranged.request, scenario.cancel);
  const counters = Object.entries(admin.metrics())
    .filter(([operation]) => !(operation in OBSERVER_OPERATIONS))
    .map(([, counter]) => counter);

  admin.configureFaults(NO_FAULTS);
  await scenario.removeCause?.(cloud, arranged);
  const rerun = await runChecked(cloud, scenario, { ...arranged.request, requestId: `${arranged.request.requestId}-rerun` });

  const result: ScenarioResult = {
    scenario: scenario.name,
    kind: scenario.kind,
    faultDescription: scenario.faultDescription,
    devices: arranged.request.devices.length,
    cores: new Set(arranged.request.devices.map((device) => device.coreDeviceThingName)).size,
    first,
    rerun,
    cloudCalls: {
      calls: counters.reduce((sum, counter) => sum + counter.calls, 0),
      throttled: counters.reduce((sum, counter) => sum + counter.throttled, 0),
      failed: counters.reduce((sum, counter) => sum + counter.failed, 0),
    },
    ...(arranged.expectedFailures && { expectedFailures: arranged.expectedFailures }),
    wallMs: Date.now() - started,
  };
  recordFigures(result);
  return result;
}

/** Where `npm run reliability` collects the figures of each scenario the tests ran. */
const FIGURES_DIR_VARIABLE = 'RELIABILITY_FIGURES_DIR';

function recordFigures(result: ScenarioResult): void {
  const directory = process.env[FIGURES_DIR_VARIABLE];
  if (!directory) return;
  mkdirSync(directory, { recursive: true });
  const { summary: _first, ...first } = result.first;
  const { summary: _rerun, ...rerun } = result.rerun;
  writeFileSync(join(directory, `${result.scenario}.json`), `${JSON.stringify({ ...result, first, rerun }, null, 2)}\n`);
}
