import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { completionDetailSchema } from '../../../functions/domain/completion-event-schema.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

interface BusEvent {
  eventBusName: string;
  event: { source: string; 'detail-type': string; detail: unknown };
}

/** Every request ends by publishing its completion on the service's bus (docs/events.yaml). */
describe('completion events', () => {
  const cloud = useServiceCloud();

  const eventsOfType = async (detailType: string): Promise<BusEvent[]> => {
    const { events } = (await (await fetch(`${cloud.url}/_local/eventbridge/events`)).json()) as { events: BusEvent[] };
    return events.filter(({ event }) => event['detail-type'] === detailType);
  };

  it('a provisioning request publishes Provisioning Request Completed with its outcome, counts, failed devices and where to read the summary', async () => {
    const devices = [
      { thingName: 'done-1', principal: await cloud.createCertificate(), coreDeviceThingName: 'core-a' },
      { thingName: 'lost-1', principal: await cloud.createCertificate(), coreDeviceThingName: 'core-missing' },
    ];
    const run = await cloud.provision({ requestId: 'completion-provision', devices });

    const published = await eventsOfType('Provisioning Request Completed');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ eventBusName: 'default', event: { source: 'iot-provisioning-workflow' } });
    expect(completionDetailSchema.parse(published[0]?.event.detail)).toEqual({
      requestId: 'completion-provision',
      workflow: 'provision',
      status: 'PARTIAL',
      counts: { requested: 2, succeeded: 1, failed: 1, rolledBack: 1 },
      executionArn: run.executionArn,
      completedAt: expect.any(String),
      statusUrl: 'http://127.0.0.1:3000/provisioning-requests/completion-provision',
      failedThingNames: ['lost-1'],
    });
    // The service's own rule listens on the same bus for Provisioning Requested only: no second execution.
    const executions = await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provision') }));
    expect(executions.executions?.map((execution) => execution.name)).toEqual(['completion-provision']);
  });

  it('a deprovisioning request publishes Deprovisioning Request Completed', async () => {
    const principal = await cloud.createCertificate();
    await cloud.provision({ requestId: 'completion-setup', devices: [{ thingName: 'gone-1', principal, coreDeviceThingName: 'core-a' }] });
    const run = await cloud.deprovision({
      requestId: 'completion-deprovision',
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'gone-1' }],
    });

    const [published, ...more] = await eventsOfType('Deprovisioning Request Completed');
    expect(more).toEqual([]);
    expect(published?.event.detail).toEqual({
      requestId: 'completion-deprovision',
      workflow: 'deprovision',
      status: 'SUCCEEDED',
      counts: { requested: 1, succeeded: 1, failed: 0, rolledBack: 0 },
      executionArn: run.executionArn,
      completedAt: expect.any(String),
      statusUrl: 'http://127.0.0.1:3000/deprovisioning-requests/completion-deprovision',
      failedThingNames: [],
    });
  });
});
