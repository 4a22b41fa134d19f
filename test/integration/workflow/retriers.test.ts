import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { requestSummarySchema } from '../../../functions/domain/request-status.ts';
import { loadServerlessProject, stateMachineDefinition } from '../../../local-cloud/index.ts';
import { forEachState } from '../../../local-cloud/services/stepfunctions/asl-states.ts';
import { recordInterpreterRun } from '../../support/path-coverage.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

interface Retrier {
  ErrorEquals: string[];
}

interface Catcher {
  ErrorEquals: string[];
  Next: string;
}

/** An error that no retrier names: only a Catch takes it. */
const PERMANENT = 'InjectedPermanentFailure';

const project = await loadServerlessProject();

/**
 * Every Retry of every Task, each given one failure of the first error it names, including Lambda's own service
 * errors, which the local cloud never raises (it runs the handlers in-process). The request runs once on the local
 * cloud; its input then runs again in aws-local-stepfunctions, each Task calling the same real handler against the
 * same local cloud, but only after one failed attempt per retrier of the state. The outcome must be the same:
 * every failure a retrier names is absorbed. The devices are chosen so that a second run meets the world the first
 * left as it found it: one provisioned (found existing the second time), the others rolled back (their things deleted).
 * Then every Catch: its task fails every time with an error no retrier names, and the request must still end with
 * a summary that has an outcome for every device. What each Catch's outcome says is asserted by the workflow tests
 * on the local cloud (provision, deprovision, deletion-paths) and lambda-failures.test.ts.
 */
describe('every retrier and every Catch of every task', () => {
  const cloud = useServiceCloud();

  function machineWithFailingTasks(machineKey: string) {
    const definition = stateMachineDefinition(project, machineKey);
    const tasks = new Map<string, { functionName: string; retriers: Retrier[]; catchers: Catcher[] }>();
    forEachState(definition, (name, state) => {
      if (state.Type !== 'Task') return;
      const [functionName] = (state.Resource as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      tasks.set(name, {
        functionName,
        retriers: (state.Retry as Retrier[] | undefined) ?? [],
        catchers: (state.Catch as Catcher[] | undefined) ?? [],
      });
      state.Resource = `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
    });
    return { machine: new StateMachine(definition, { validationOptions: { checkArn: false } }), tasks };
  }

  /**
   * Each Task fails once per retrier before it calls its handler; `failing` (if given) fails every time, with
   * `failure`, and so do the tasks whose Catch leads to it (it runs only when they have failed).
   */
  async function runWithOneFailurePerRetrier(
    machineKey: string,
    input: unknown,
    executionName: string,
    failing?: string,
    failure = PERMANENT,
  ) {
    const { machine, tasks } = machineWithFailingTasks(machineKey);
    const failingTasks = new Set(
      failing
        ? [failing, ...[...tasks].filter(([, { catchers }]) => catchers.some((catcher) => catcher.Next === failing)).map(([name]) => name)]
        : [],
    );
    const attempts = new Map<string, number>();
    const handlers = Object.fromEntries(
      [...tasks].map(([name, { functionName, retriers }]) => [
        name,
        async (taskInput: unknown) => {
          const key = `${name} ${JSON.stringify(taskInput)}`;
          const attempt = attempts.get(key) ?? 0;
          attempts.set(key, attempt + 1);
          if (failingTasks.has(name)) throw Object.assign(new Error('injected: fails every time'), { name: failure });
          const retrier = retriers[attempt];
          if (retrier)
            throw Object.assign(new Error(`injected before the call: ${retrier.ErrorEquals[0]}`), { name: retrier.ErrorEquals[0] });
          return cloud.lambdas.invoke(functionName, taskInput);
        },
      ]),
    );
    const execution = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        retryIntervalOverrides: Object.fromEntries([...tasks.keys()].map((name) => [name, 0])),
      },
      context: {
        Execution: {
          Id: `arn:aws:states:us-east-1:000000000000:execution:${machineKey}:${executionName}`,
          Name: executionName,
          Input: input as never,
        },
      },
    });
    const events = [];
    for await (const event of execution.eventLogs) events.push(event);
    recordInterpreterRun(events);
    const retried = new Map<string, Set<string>>();
    for (const event of events) {
      if (event.type !== 'StateRetried') continue;
      const errors = retried.get(event.state.name) ?? new Set<string>();
      errors.add(event.retry.retrier.ErrorEquals[0] as string);
      retried.set(event.state.name, errors);
    }
    const entered = new Set(events.flatMap((event) => (event.type === 'StateEntered' ? [event.state.name] : [])));
    return { output: await execution.result, tasks, retried, entered, failingTasks };
  }

  const startedInput = (history: Awaited<ReturnType<typeof cloud.provision>>['history']) =>
    JSON.parse(history.find((event) => event.type === 'ExecutionStarted')?.executionStartedEventDetails?.input ?? 'null');

  function expectEveryRetrierFired(run: Awaited<ReturnType<typeof runWithOneFailurePerRetrier>>) {
    for (const [name, { retriers }] of run.tasks) {
      if (!run.entered.has(name) || run.failingTasks.has(name)) continue;
      expect([...(run.retried.get(name) ?? [])].sort(), name).toEqual(retriers.map((retrier) => retrier.ErrorEquals[0]).sort());
    }
  }

  it('of the provision machine absorbs one failure of its kind, and the request ends as it did without them', async () => {
    const missingCertificate = `arn:aws:iot:us-east-1:000000000000:cert/${'e'.repeat(64)}`;
    const reference = await cloud.provision({
      requestId: 'retriers-provision',
      devices: [
        { thingName: 'retried-ok', principal: await cloud.createCertificate(), coreDeviceThingName: 'core-a' },
        { thingName: 'retried-attach-fails', principal: missingCertificate, coreDeviceThingName: 'core-a' },
        { thingName: 'retried-no-core', principal: await cloud.createCertificate(), coreDeviceThingName: 'core-missing' },
      ],
    });
    expect(reference.summary.devices.map((device) => [device.thingName, device.status, device.error?.step])).toEqual([
      ['retried-ok', 'PROVISIONED', undefined],
      ['retried-attach-fails', 'FAILED', 'attach'],
      ['retried-no-core', 'FAILED', 'associate'],
    ]);

    const run = await runWithOneFailurePerRetrier('provision', startedInput(reference.history), 'retriers-provision');

    expect(run.output).toEqual(reference.summary);
    for (const state of [
      'InspectThing',
      'RegisterThing',
      'AttachPrincipal',
      'RollBackDevice',
      'PlanAssociations',
      'AssociateBatch',
      'SettleAssociations',
      'RollBackUnassociatedDevice',
      'SummarizeRequest',
    ]) {
      expect(run.entered.has(state), state).toBe(true);
    }
    expectEveryRetrierFired(run);
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['retried-ok']);
  });

  it('of the deprovision machine absorbs one failure of its kind, and the request ends as it did without them', async () => {
    const principal = await cloud.createCertificate();
    const provisioned = await cloud.provision({ devices: [{ thingName: 'retried-remove', principal, coreDeviceThingName: 'core-a' }] });
    expect(provisioned.summary.status).toBe('SUCCEEDED');
    const reference = await cloud.deprovision({
      requestId: 'retriers-deprovision',
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'retried-remove' }, { thingName: 'retried-never-existed' }],
    });
    expect(reference.summary).toMatchObject({ status: 'SUCCEEDED', counts: { requested: 2, succeeded: 2 } });

    const run = await runWithOneFailurePerRetrier('deprovision', startedInput(reference.history), 'retriers-deprovision');

    expect(run.output).toEqual(reference.summary);
    for (const state of ['DisassociateBatch', 'SettleDisassociations', 'DetachPrincipals', 'DeleteThing', 'SummarizeRequest'])
      expect(run.entered.has(state), state).toBe(true);
    expectEveryRetrierFired(run);
    expect(cloud.clientThings()).toEqual([]);
  });

  /** The request of the provision test above, run on the local cloud: its execution input. */
  async function provisionInput(requestId: string) {
    const missingCertificate = `arn:aws:iot:us-east-1:000000000000:cert/${'e'.repeat(64)}`;
    const reference = await cloud.provision({
      requestId,
      devices: [
        { thingName: `${requestId}-ok`, principal: await cloud.createCertificate(), coreDeviceThingName: 'core-a' },
        { thingName: `${requestId}-attach-fails`, principal: missingCertificate, coreDeviceThingName: 'core-a' },
        { thingName: `${requestId}-no-core`, principal: await cloud.createCertificate(), coreDeviceThingName: 'core-missing' },
      ],
    });
    return startedInput(reference.history) as { devices: unknown[] };
  }

  /** Each Catch with the error that reaches it: PERMANENT for States.ALL, else the one it names (RequestCancelled). */
  function catchingTasks(machineKey: string): Array<[string, string, string]> {
    return [...machineWithFailingTasks(machineKey).tasks].flatMap(([name, { catchers }]) =>
      catchers.map((catcher): [string, string, string] => [
        name,
        catcher.Next,
        catcher.ErrorEquals.includes('States.ALL') ? PERMANENT : (catcher.ErrorEquals[0] as string),
      ]),
    );
  }

  it.each(catchingTasks('provision'))(
    'of the provision machine: %s failing every time (after what leads to it) goes to %s, and the request still ends with an outcome for every device',
    async (failing, next, failure) => {
      const input = await provisionInput(`catch-${failing.toLowerCase()}-${next.toLowerCase()}`);

      const run = await runWithOneFailurePerRetrier('provision', input, `catch-${failing}-${next}`, failing, failure);

      expect(run.entered.has(failing)).toBe(true);
      expect(run.entered.has(next)).toBe(true);
      const summary = requestSummarySchema.parse(run.output);
      expect(summary.devices).toHaveLength(input.devices.length);
      expect(summary.counts.requested).toBe(input.devices.length);
      expectEveryRetrierFired(run);
    },
  );

  it.each(catchingTasks('deprovision'))(
    'of the deprovision machine: %s failing every time (after what leads to it) goes to %s, and the request still ends with an outcome for every device',
    async (failing, next, failure) => {
      const principal = await cloud.createCertificate();
      const thingName = `catch-${failing.toLowerCase()}`;
      const provisioned = await cloud.provision({ devices: [{ thingName, principal, coreDeviceThingName: 'core-a' }] });
      expect(provisioned.summary.status).toBe('SUCCEEDED');
      const reference = await cloud.deprovision({ coreDeviceThingName: 'core-a', disassociate: true, devices: [{ thingName }] });
      // Provisioned again, so that the run below has something to remove.
      await cloud.provision({ devices: [{ thingName, principal, coreDeviceThingName: 'core-a' }] });

      const run = await runWithOneFailurePerRetrier('deprovision', startedInput(reference.history), `catch-${failing}`, failing, failure);

      expect(run.entered.has(failing)).toBe(true);
      expect(run.entered.has(next)).toBe(true);
      const summary = requestSummarySchema.parse(run.output);
      expect(summary.devices.map((device) => device.thingName)).toEqual([thingName]);
      expectEveryRetrierFired(run);
    },
  );
});
