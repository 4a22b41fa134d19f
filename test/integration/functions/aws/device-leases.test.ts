import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { acquireLeases, isCancelled, type LeaseClaim, releaseLeases, writeCancelMarker } from '../../../../functions/aws/device-leases.ts';
import { cancelMarkerKey, type HolderExecution, LEASE_TTL_SECONDS } from '../../../../functions/domain/device-leases.ts';
import { logger } from '../../../../functions/lambda/powertools.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';

/**
 * The lease writes of device-leases.ts against the local cloud's DynamoDB (the stack's table): what a request
 * takes, what it is refused, what it takes over, and what it releases. Which lease is stale is the domain's
 * (test/unit/functions/domain/device-leases.test.ts); here the holder's execution status is given.
 */
const cloud = useServiceCloud();
let dynamodb: DynamoDBClient;
beforeAll(() => {
  dynamodb = new DynamoDBClient({ ...cloud.clientConfig, maxAttempts: 1 });
});
afterAll(() => dynamodb.destroy());

const table = () => process.env.DEVICE_LEASES_TABLE as string;
const names = (count: number, prefix = 'device') => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
const claim = (requestId: string, thingNames: readonly string[], workflow: 'provision' | 'deprovision' = 'provision'): LeaseClaim => ({
  owner: `${workflow}/${requestId}/digest`,
  holder: { workflow, requestId },
  thingNames,
});
const running = async (): Promise<HolderExecution> => ({ status: 'RUNNING' });
const succeeded = async (): Promise<HolderExecution> => ({ status: 'SUCCEEDED' });

async function lease(thingName: string) {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: table(), Key: { thingName: { S: thingName } }, ConsistentRead: true }),
  );
  return (
    Item && {
      owner: Item.leaseOwner?.S,
      workflow: Item.workflow?.S,
      requestId: Item.requestId?.S,
      acquiredAt: Number(Item.acquiredAt?.N),
      expiresAt: Number(Item.leaseExpiresAt?.N),
    }
  );
}

describe('taking device leases', () => {
  it('leases free devices to the request, for as long as TTL waits, and again to the same request', async () => {
    const first = claim('r1', ['sensor-1', 'sensor-2'], 'deprovision');
    const before = Math.floor(Date.now() / 1000);
    // Loaded afresh, so that the condition and clock the module sets when it loads are this test's to check.
    vi.resetModules();
    const fresh = await import('../../../../functions/aws/device-leases.ts');

    expect(await fresh.acquireLeases(dynamodb, first, running)).toEqual([]);
    expect(await fresh.acquireLeases(dynamodb, first, running)).toEqual([]);
    const after = Math.floor(Date.now() / 1000);

    const written = await lease('sensor-2');
    expect(written).toMatchObject({ owner: first.owner, workflow: 'deprovision', requestId: 'r1' });
    expect(written?.acquiredAt).toBeGreaterThanOrEqual(before);
    expect(written?.acquiredAt).toBeLessThanOrEqual(after);
    expect(written?.expiresAt).toBe((written?.acquiredAt ?? 0) + LEASE_TTL_SECONDS);
  });

  it('answers the devices a running request holds, with their holder, and takes none of them', async () => {
    await acquireLeases(dynamodb, claim('r1', ['sensor-1', 'sensor-2']), running);

    expect(await acquireLeases(dynamodb, claim('r2', ['sensor-0', 'sensor-2', 'sensor-1']), running)).toEqual([
      { thingName: 'sensor-2', heldBy: { workflow: 'provision', requestId: 'r1' } },
      { thingName: 'sensor-1', heldBy: { workflow: 'provision', requestId: 'r1' } },
    ]);
    expect(await lease('sensor-1')).toMatchObject({ requestId: 'r1' });
    expect(await lease('sensor-0')).toBeUndefined();
  });

  it('asks after each holder once, and answers every running holder', async () => {
    await acquireLeases(dynamodb, claim('r1', ['a-1', 'a-2']), running);
    await acquireLeases(dynamodb, claim('r2', ['b-1']), running);
    const asked: string[] = [];

    const held = await acquireLeases(dynamodb, claim('r3', ['a-1', 'b-1', 'a-2']), async (holder) => {
      asked.push(holder.requestId);
      return { status: 'RUNNING' };
    });

    expect(asked.sort()).toEqual(['r1', 'r2']);
    expect(held.map(({ thingName, heldBy }) => `${thingName}:${heldBy.requestId}`).sort()).toEqual(['a-1:r1', 'a-2:r1', 'b-1:r2']);
  });

  it('takes over the leases of a request that no longer runs', async () => {
    await acquireLeases(dynamodb, claim('r1', ['sensor-1', 'sensor-2']), running);

    expect(await acquireLeases(dynamodb, claim('r2', ['sensor-1', 'sensor-2', 'sensor-3']), succeeded)).toEqual([]);

    for (const thingName of ['sensor-1', 'sensor-2', 'sensor-3']) expect(await lease(thingName)).toMatchObject({ requestId: 'r2' });
  });

  it('does not take over a stale lease that its request wrote again meanwhile', async () => {
    await acquireLeases(dynamodb, claim('r1', ['sensor-1']), running);
    let asked = 0;
    const statusOf = async (): Promise<HolderExecution> => {
      asked += 1;
      if (asked > 1) return { status: 'RUNNING' };
      // Judged ended; then its request writes the lease again (a retried start) before the takeover.
      await dynamodb.send(
        new PutItemCommand({
          TableName: table(),
          Item: {
            thingName: { S: 'sensor-1' },
            leaseOwner: { S: claim('r1', []).owner },
            workflow: { S: 'provision' },
            requestId: { S: 'r1' },
            acquiredAt: { N: '1' },
          },
        }),
      );
      return { status: 'SUCCEEDED' };
    };

    const held = await acquireLeases(dynamodb, claim('r2', ['sensor-1']), statusOf);

    expect(held).toEqual([{ thingName: 'sensor-1', heldBy: { workflow: 'provision', requestId: 'r1' } }]);
    expect(await lease('sensor-1')).toMatchObject({ requestId: 'r1', acquiredAt: 1 });
  });

  it('leases over a hundred devices a transaction at a time, and keeps those leased before a refusal', async () => {
    const devices = names(150);
    await acquireLeases(dynamodb, claim('r1', ['device-120']), running);
    const transactionsBefore = cloud.cloud.admin.metrics().TransactWriteItems?.calls ?? 0;

    expect(await acquireLeases(dynamodb, claim('r2', devices), running)).toEqual([
      { thingName: 'device-120', heldBy: { workflow: 'provision', requestId: 'r1' } },
    ]);

    expect((cloud.cloud.admin.metrics().TransactWriteItems?.calls ?? 0) - transactionsBefore).toBe(2);
    expect(await lease('device-99')).toMatchObject({ requestId: 'r2' });
    expect(await lease('device-100')).toBeUndefined();
  });

  it('answers a device whose item names no lease as held by an unnamed provisioning request', async () => {
    await dynamodb.send(new PutItemCommand({ TableName: table(), Item: { thingName: { S: 'sensor-1' } } }));
    const asked: unknown[] = [];

    const held = await acquireLeases(dynamodb, claim('r1', ['sensor-1']), async (holder) => {
      asked.push(holder);
      return { status: 'RUNNING' };
    });

    expect(held).toEqual([{ thingName: 'sensor-1', heldBy: { workflow: 'provision', requestId: '' } }]);
    expect(asked).toEqual([{ workflow: 'provision', requestId: '' }]);
  });

  it('names the missing table setting before it writes anything', async () => {
    const name = process.env.DEVICE_LEASES_TABLE;
    delete process.env.DEVICE_LEASES_TABLE;
    try {
      await expect(acquireLeases(dynamodb, claim('r1', ['sensor-1']), running)).rejects.toThrow(
        'DEVICE_LEASES_TABLE is not set: the function is misconfigured',
      );
    } finally {
      process.env.DEVICE_LEASES_TABLE = name;
    }
    expect(await lease('sensor-1')).toBeUndefined();
  });

  it('throws a failed write under its own name rather than answering the devices free or held', async () => {
    cloud.cloud.admin.configureFaults({ serverError: { TransactWriteItems: 1 } });

    await expect(acquireLeases(dynamodb, claim('r1', ['sensor-1']), running)).rejects.toMatchObject({ $fault: 'server' });
  });
});

describe('releasing device leases', () => {
  it("releases the owner's leases, over a hundred a transaction at a time, and leaves another request's", async () => {
    const mine = claim('r1', names(150));
    await acquireLeases(dynamodb, mine, running);
    await acquireLeases(dynamodb, claim('r2', ['other-1']), running);

    await releaseLeases(dynamodb, mine.owner, [...names(150), 'other-1']);

    expect(await lease('device-0')).toBeUndefined();
    expect(await lease('device-149')).toBeUndefined();
    expect(await lease('other-1')).toMatchObject({ requestId: 'r2' });
  });

  it('ends once no device of the release is still the owner’s', async () => {
    await acquireLeases(dynamodb, claim('r2', ['other-1', 'other-2']), running);

    await releaseLeases(dynamodb, claim('r1', []).owner, ['other-1', 'other-2']);

    expect(await lease('other-1')).toMatchObject({ requestId: 'r2' });
    expect(await lease('other-2')).toMatchObject({ requestId: 'r2' });
  });

  it('throws a failed release under its own name', async () => {
    const mine = claim('r1', ['sensor-1']);
    await acquireLeases(dynamodb, mine, running);
    cloud.cloud.admin.configureFaults({ serverError: { TransactWriteItems: 1 } });

    await expect(releaseLeases(dynamodb, mine.owner, ['sensor-1'])).rejects.toMatchObject({ $fault: 'server' });
    cloud.cloud.admin.configureFaults({ serverError: {} });
    expect(await lease('sensor-1')).toMatchObject({ requestId: 'r1' });
  });
});

describe('cancel markers', () => {
  it("marks the owner's request cancelled, beside its leases and apart from another owner's", async () => {
    const mine = claim('r1', ['sensor-1']);
    expect(await isCancelled(dynamodb, mine.owner)).toBe(false);

    const before = Math.floor(Date.now() / 1000);
    await writeCancelMarker(dynamodb, mine.owner, mine.holder);
    const after = Math.floor(Date.now() / 1000);

    expect(await isCancelled(dynamodb, mine.owner)).toBe(true);
    expect(await isCancelled(dynamodb, claim('r1', [], 'deprovision').owner)).toBe(false);
    const marker = await lease(cancelMarkerKey(mine.owner));
    expect(marker).toMatchObject({ owner: mine.owner, workflow: 'provision', requestId: 'r1' });
    // It lasts as long as a lease, from when it was written.
    expect(marker?.expiresAt).toBeGreaterThanOrEqual(before + LEASE_TTL_SECONDS);
    expect(marker?.expiresAt).toBeLessThanOrEqual(after + LEASE_TTL_SECONDS);
  });

  it('counts a marker that cannot be read as no cancel', async () => {
    const mine = claim('r1', ['sensor-1']);
    await writeCancelMarker(dynamodb, mine.owner, mine.holder);
    cloud.cloud.admin.configureFaults({ serverError: { GetItem: 1 } });
    const warn = vi.spyOn(logger, 'warn');

    try {
      expect(await isCancelled(dynamodb, mine.owner)).toBe(false);
      expect(warn).toHaveBeenCalledExactlyOnceWith("could not read the request's cancel marker; going on as if it had not been cancelled", {
        errorName: expect.stringMatching(/^(InternalFailure|ServiceUnavailable)/),
      });
    } finally {
      warn.mockRestore();
    }
  });
});
