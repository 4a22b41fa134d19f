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
import { AttachThingPrincipalCommand, DetachThingPrincipalCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { isTransientError } from '../../functions/domain/errors.ts';
import type { RequestSummary, Step } from '../../functions/domain/records.ts';
import { type FaultSettingsPatch, NO_INJECTED_FAULTS, type OperationCounters } from '../../local-cloud/faults.ts';
import type { StateSnapshot } from '../../local-cloud/store.ts';
import { eventsOf, failedAttempts, type CompletedRequest, type TestServiceCloud } from '../support/service-cloud.ts';
import {
  checkDeprovisioning,
  checkProvisioning,
  type DeprovisioningRequestShape,
  type ProvisioningRequestShape,
} from './invariants.ts';

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

interface Arranged {
  request: Request;
  /** Devices that must fail on the first run (a cause that retries cannot remove), and how. */
  expectedFailures?: { thingNames: string[]; step: Step; code: string };
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
}

export interface RunFigures {
  succeeded: number;
  failed: number;
  rolledBack: number;
  /** Failed Lambda attempts in the execution history, by error name: each one was retried or caught. */
  failedAttempts: Record<string, number>;
  /** Batch calls made again for error entries (the only Wait states of both machines are these re-drives). */
  redrives: number;
  violations: string[];
  summary: RequestSummary;
}

export interface ScenarioResult {
  scenario: string;
  kind: Scenario['kind'];
  faultDescription: string;
  devices: number;
  cores: number;
  first: RunFigures;
  rerun: RunFigures;
  /**
   * The local cloud's counters during the first run, summed over the operations the service calls (not
   * the harness's polling). `failed` also counts the DescribeThing 404 with which inspection finds that
   * a thing is new: one per new device.
   */
  cloudCalls: Omit<OperationCounters, 'succeeded'>;
  expectedFailures?: Arranged['expectedFailures'];
  wallMs: number;
}

function devicesOf(name: string, principals: string[], cores = CORE_DEVICES) {
  return principals.map((principal, index) => ({ thingName: `${name}-${String(index).padStart(3, '0')}`, principal, coreDeviceThingName: cores[index % cores.length]! }));
}

async function certificates(cloud: TestServiceCloud, count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, () => cloud.createCertificate()));
}

/** A fleet of fresh devices, each with its own certificate, spread over the registered core devices. */
async function freshFleet(cloud: TestServiceCloud, name: string, cores = CORE_DEVICES): Promise<Request> {
  return { requestId: name, devices: devicesOf(name, await certificates(cloud, DEVICES_PER_SCENARIO), cores) };
}

/** A thing registered the way an earlier tool might have, with attributes of its own. */
async function preExistingThing(cloud: TestServiceCloud, thingName: string, attributes: Record<string, string>): Promise<void> {
  const templateBody = JSON.stringify({
    Parameters: { ThingName: { Type: 'String' } },
    Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: attributes } } },
  });
  await cloud.iot.send(new RegisterThingCommand({ templateBody, parameters: { ThingName: thingName } }));
}

async function registerCoreDevice(cloud: TestServiceCloud, coreDeviceThingName: string): Promise<void> {
  const response = await fetch(`${cloud.url}/_local/greengrass/core-devices`, { method: 'POST', body: JSON.stringify({ coreDeviceThingName }) });
  if (!response.ok) throw new Error(`registering ${coreDeviceThingName}: ${response.status} ${await response.text()}`);
}

/** A provisioning scenario over a fleet of fresh devices: only its faults differ. */
function onFreshFleet(scenario: Pick<Scenario, 'name' | 'faultDescription' | 'faults' | 'retriedError' | 'permanentFaultCode' | 'redrivesEntries'> & { timeScale?: Scenario['timeScale'] }): Scenario {
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
      const orphans = request.devices.slice(0, CONFLICTING_DEVICES);
      for (const device of orphans) device.coreDeviceThingName = UNREGISTERED_CORE;
      return { request, expectedFailures: { thingNames: orphans.map((device) => device.thingName), step: 'associate', code: 'ResourceNotFoundException' } };
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
      const taken = request.devices.slice(0, CONFLICTING_DEVICES);
      for (const device of taken) {
        await preExistingThing(cloud, `owner-of-${device.thingName}`, { role: 'owner' });
        await cloud.iot.send(
          new AttachThingPrincipalCommand({ thingName: `owner-of-${device.thingName}`, principal: device.principal!, thingPrincipalType: 'EXCLUSIVE_THING' }),
        );
      }
      return { request, expectedFailures: { thingNames: taken.map((device) => device.thingName), step: 'attach', code: 'InvalidRequestException' } };
    },
    async removeCause(cloud, { request }) {
      for (const device of request.devices.slice(0, CONFLICTING_DEVICES)) {
        await cloud.iot.send(new DetachThingPrincipalCommand({ thingName: `owner-of-${device.thingName}`, principal: device.principal! }));
      }
    },
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
          await cloud.iot.send(new AttachThingPrincipalCommand({ thingName: device.thingName, principal: device.principal!, thingPrincipalType: 'NON_EXCLUSIVE_THING' }));
        }
      }
      // Some existing things must fail, so that their rollback proves it leaves them as they were.
      const failing = existing.slice(0, CONFLICTING_DEVICES / 2);
      for (const device of failing) device.coreDeviceThingName = UNREGISTERED_CORE;
      return { request, expectedFailures: { thingNames: failing.map((device) => device.thingName), step: 'associate', code: 'ResourceNotFoundException' } };
    },
    removeCause: (cloud) => registerCoreDevice(cloud, UNREGISTERED_CORE),
  },
];

/** Provisions the fleet without faults, then asks to remove it plus devices that are already gone. */
async function provisionedFleetToRemove(cloud: TestServiceCloud, name: string): Promise<Arranged> {
  const fleet = await freshFleet(cloud, `${name}-fleet`);
  const setup = await cloud.provision(fleet, { timeoutMs: 60_000 });
  if (setup.summary.counts.succeeded !== fleet.devices.length) throw new Error(`arranging ${name}: ${JSON.stringify(setup.summary.counts)}`);
  const alreadyGone = Array.from({ length: 10 }, (_, index) => ({ thingName: `${name}-never-existed-${index}`, coreDeviceThingName: CORE_DEVICES[index % CORE_DEVICES.length]! }));
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
    faultDescription: '30% throttling, 10% 5xx, 10% fail-after-commit, BatchDisassociate entries 10% retryable / 5% permanent; 10 devices already gone, 10 detached',
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
    // Permanent entry faults fail their devices; exhausted retries (rare at these rates) would too.
    permanentFaultCode: 'InvalidRequestException',
    redrivesEntries: true,
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

export const scenarios: Scenario[] = [...transientFaults, ...conflicts, ...removal];

/** Submits as a client would: a submit that fails on a transient error is sent again with the same key. */
async function submit(cloud: TestServiceCloud, scenario: Scenario, request: Request): Promise<CompletedRequest> {
  const timeoutMs = scenario.timeScale === 0 ? 60_000 : 120_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await (scenario.kind === 'provision' ? cloud.provision(request, { timeoutMs }) : cloud.deprovision(request, { timeoutMs }));
    } catch (error) {
      if (attempt >= 5 || !isTransientError((error as Error).name)) throw error;
    }
  }
}

function check(scenario: Scenario, request: Request, summary: RequestSummary, before: StateSnapshot, after: StateSnapshot): string[] {
  return scenario.kind === 'provision' ? checkProvisioning(request, summary, before, after) : checkDeprovisioning(request, summary, before, after);
}

async function runChecked(cloud: TestServiceCloud, scenario: Scenario, request: Request): Promise<RunFigures> {
  const before = cloud.cloud.admin.state();
  const run = await submit(cloud, scenario, request);
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
    violations: check(scenario, request, run.summary, before, after),
    summary: run.summary,
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
  const first = await runChecked(cloud, scenario, arranged.request);
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
