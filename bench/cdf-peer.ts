/**
 * The peer: client devices provisioned the way the AWS Connected Device Framework's
 * greengrass2-provisioning service does it (source/packages/services/greengrass2-provisioning,
 * `DevicesService.createDevices` / `associateDevicesWithCore`): batches of 20 devices, 10 batches in flight
 * (p-limit), each device RegisterThing then AttachThingPrincipal, then one
 * BatchAssociateClientDeviceWithCoreDevice per batch and core. Direct SDK v3 calls with the SDK's default
 * retries (standard mode, 3 attempts), no orchestration: a device whose calls gave up is lost.
 * CDF's DescribeThing existence check is left out, as the brief for this comparison specifies.
 */

import { BatchAssociateClientDeviceWithCoreDeviceCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { AttachThingPrincipalCommand, IoTClient, RegisterThingCommand } from '@aws-sdk/client-iot';
import pLimit from 'p-limit';
import type { BenchCloud, FleetDevice } from './harness.ts';

const BATCH_SIZE = 20;
const BATCHES_IN_FLIGHT = 10;

export interface PeerRun {
  seconds: number;
  /** Device names whose calls all succeeded. */
  provisioned: Set<string>;
}

export async function provisionLikeCdf(cloud: BenchCloud, devices: readonly FleetDevice[], templateBody: string): Promise<PeerRun> {
  const iot = new IoTClient(cloud.clientConfig);
  const greengrass = new GreengrassV2Client(cloud.clientConfig);
  const batches = Array.from({ length: Math.ceil(devices.length / BATCH_SIZE) }, (_, index) =>
    devices.slice(index * BATCH_SIZE, (index + 1) * BATCH_SIZE),
  );
  const provisioned = new Set<string>();

  const registerAndAttach = async (device: FleetDevice): Promise<boolean> => {
    try {
      await iot.send(new RegisterThingCommand({ templateBody, parameters: { ThingName: device.thingName } }));
      await iot.send(
        new AttachThingPrincipalCommand({
          thingName: device.thingName,
          principal: device.principal,
          thingPrincipalType: 'EXCLUSIVE_THING',
        }),
      );
      return true;
    } catch {
      return false;
    }
  };

  const associate = async (core: string, members: readonly FleetDevice[]): Promise<void> => {
    try {
      const { errorEntries } = await greengrass.send(
        new BatchAssociateClientDeviceWithCoreDeviceCommand({
          coreDeviceThingName: core,
          entries: members.map(({ thingName }) => ({ thingName })),
        }),
      );
      const failed = new Set(errorEntries?.map((entry) => entry.thingName));
      for (const device of members) if (!failed.has(device.thingName)) provisioned.add(device.thingName);
    } catch {
      // The whole batch is lost: CDF marks its devices failed and moves on.
    }
  };

  const started = performance.now();
  try {
    await pLimit(BATCHES_IN_FLIGHT).map(batches, async (batch) => {
      const created = await Promise.all(batch.map(registerAndAttach));
      const ready = batch.filter((_, index) => created[index]);
      const byCore = Map.groupBy(ready, (device) => device.coreDeviceThingName);
      await Promise.all([...byCore].map(([core, members]) => associate(core, members)));
    });
    return { seconds: (performance.now() - started) / 1000, provisioned };
  } finally {
    iot.destroy();
    greengrass.destroy();
  }
}
