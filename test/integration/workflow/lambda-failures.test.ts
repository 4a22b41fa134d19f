import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord, DeviceTaskInput } from '../../../functions/domain/records.ts';
import { requestSummarySchema } from '../../../functions/domain/request-status.ts';
import { loadServerlessProject, stateMachineDefinition } from '../../../local-cloud/index.ts';
import { forEachState } from '../../../local-cloud/services/stepfunctions/asl-states.ts';
import { recordInterpreterRun } from '../../support/path-coverage.ts';

const project = await loadServerlessProject();

/**
 * The paths only a Lambda function that keeps failing reaches: the rollback's retries are spent, and so are those
 * of the task that records its outcome. The local cloud's functions do not fail on their own, so these run the
 * real definition in aws-local-stepfunctions with each task stubbed, and the pure tasks (planning, settling,
 * summarizing) real.
 */
describe('provision state machine, when Lambda itself keeps failing', () => {
  const definition = stateMachineDefinition(project, 'provision');
  const taskStates: string[] = [];
  forEachState(definition, (name, state) => {
    if (state.Type !== 'Task') return;
    taskStates.push(name);
    state.Resource = `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
  });
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });

  type Task = (input: never) => unknown;
  let realTasks: Record<'PlanAssociations' | 'SettleAssociations' | 'SummarizeRequest', Task>;
  beforeAll(async () => {
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const [plan, settle, summarize] = await Promise.all([
      import('../../../functions/plan-associations.ts'),
      import('../../../functions/settle-associations.ts'),
      import('../../../functions/summarize-request.ts'),
    ]);
    realTasks = {
      PlanAssociations: plan.planAssociations,
      SettleAssociations: settle.settleAssociations,
      SummarizeRequest: summarize.summarizeRequest,
    };
  });

  const lambdaServiceError = () => Object.assign(new Error('Lambda is unavailable'), { name: 'Lambda.ServiceException' });
  const registered = (input: DeviceTaskInput): DeviceRecord => ({
    thingName: input.spec.thingName,
    coreDeviceThingName: input.spec.coreDeviceThingName,
    status: 'REGISTERED',
    prior: { thingExisted: false, principalAttached: false },
    thingArn: `arn:aws:iot:us-east-1:000000000000:thing/${input.spec.thingName}`,
  });

  async function run(stubs: Record<string, Task>) {
    // The tail after the summary (leases, the completion event) answers nothing the summary needs.
    const tail: Record<string, Task> = { ReleaseDevices: () => null, PublishCompletion: () => null };
    const handlers = Object.fromEntries(
      taskStates.map((name) => [
        name,
        async (input: never) => (stubs[name] ?? tail[name] ?? realTasks[name as keyof typeof realTasks])(input),
      ]),
    );
    const execution = machine.run(
      {
        requestId: 'lambda-failures',
        leaseOwner: 'lambda-failures',
        templateBody: '{}',
        templateIssuesCertificate: false,
        templateParameters: {},
        thingPrincipalType: 'EXCLUSIVE_THING',
        rollbackOnFailure: true,
        pacing: { deviceConcurrency: 1 },
        devices: [
          {
            thingName: 'sensor-1',
            coreDeviceThingName: 'core-a',
            principal: 'arn:aws:iot:us-east-1:000000000000:cert/abc',
            parameters: {},
          },
        ],
      },
      {
        overrides: {
          taskResourceLocalHandlers: handlers as never,
          retryIntervalOverrides: Object.fromEntries(taskStates.map((name) => [name, 0])),
        },
        context: {
          Execution: { Id: 'arn:aws:states:us-east-1:000000000000:execution:provision:lambda-failures', Name: 'lambda-failures' },
        },
      },
    );
    const entered: string[] = [];
    const events = [];
    for await (const event of execution.eventLogs) {
      events.push(event);
      if (event.type === 'StateEntered') entered.push(event.state.name);
    }
    recordInterpreterRun(events);
    return { summary: requestSummarySchema.parse(await execution.result), entered };
  }

  const abandonedRollback = {
    status: 'FAILED',
    error: {
      step: 'rollback',
      code: 'Lambda.ServiceException',
      message: 'the rollback gave up after its retries: Lambda.ServiceException',
    },
    rollback: {
      detachedPrincipals: [],
      thingDeleted: false,
      certificateDeleted: false,
      incomplete: { step: 'rollback', code: 'Lambda.ServiceException' },
    },
  };
  const failing = () => {
    throw lambdaServiceError();
  };

  it('a device whose rollback and its recording both keep failing is reported failed at rollback', async () => {
    const { summary, entered } = await run({
      InspectThing: registered,
      RegisterThing: () => {
        throw Object.assign(new Error('bad template'), { name: 'InvalidRequestException' });
      },
      RollBackDevice: failing,
      RecordAbandonedRollback: failing,
    });

    expect(entered).toEqual(
      expect.arrayContaining(['RollBackDevice', 'RecordAbandonedRollback', 'RollbackIncomplete', 'SummarizeRequest']),
    );
    expect(summary.counts).toEqual({ requested: 1, succeeded: 0, failed: 1, rolledBack: 0 });
    expect(summary.devices).toEqual([
      {
        thingName: 'sensor-1',
        coreDeviceThingName: 'core-a',
        ...abandonedRollback,
        rollback: { ...abandonedRollback.rollback, incomplete: expect.objectContaining(abandonedRollback.rollback.incomplete) },
      },
    ]);
  });

  it('a device that could not be associated, whose rollback and its recording both keep failing, is reported failed at rollback', async () => {
    const { summary, entered } = await run({
      InspectThing: registered,
      RegisterThing: (input: DeviceTaskInput) => input.device,
      AttachPrincipal: (input: DeviceTaskInput) => ({ ...input.device, certificateArn: input.spec.principal }),
      AssociateBatch: ({ batch }: { batch: { pending: string[] } }) => ({
        ...batch,
        pending: [],
        failed: batch.pending.map((thingName) => ({ thingName, code: 'ValidationException', message: 'refused' })),
      }),
      RollBackUnassociatedDevice: failing,
      RecordAbandonedUnassociatedRollback: failing,
    });

    expect(entered).toEqual(
      expect.arrayContaining(['RollBackUnassociatedDevice', 'RecordAbandonedUnassociatedRollback', 'UnassociatedRollbackIncomplete']),
    );
    expect(summary.devices).toEqual([
      expect.objectContaining({
        thingName: 'sensor-1',
        ...abandonedRollback,
        rollback: expect.objectContaining({ incomplete: expect.objectContaining(abandonedRollback.rollback.incomplete) }),
      }),
    ]);
  });
});
