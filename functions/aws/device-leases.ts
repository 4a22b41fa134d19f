import { setTimeout } from 'node:timers/promises';
import {
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  cancelMarkerKey,
  type HeldDevice,
  type HolderExecution,
  inChunks,
  isStaleLease,
  LEASE_TTL_SECONDS,
  type LeaseHolder,
  type Workflow,
} from '../domain/device-leases.ts';
import { TransientServiceError } from '../domain/errors.ts';
import { logger } from '../lambda/powertools.ts';

/** What a request leases: every device it names, under its owner string (device-leases.ts). */
export interface LeaseClaim {
  owner: string;
  holder: LeaseHolder;
  thingNames: readonly string[];
}

/** A holder's execution, or undefined when it has none (yet). */
export type HolderStatus = (holder: LeaseHolder) => Promise<HolderExecution | undefined>;

/** A transaction cancelled by a concurrent one is tried again this many times, a short random wait apart. */
const TRANSACTION_ATTEMPTS = 4;
const CONFLICT_WAIT_MS = 100;

const FREE_OR_MINE = 'attribute_not_exists(thingName) OR leaseOwner = :me';

/** The device-leases table, which also holds the cancel markers and the fleet runs' counters. */
export function leasesTableName(): string {
  const name = process.env.DEVICE_LEASES_TABLE;
  if (!name) throw new Error('DEVICE_LEASES_TABLE is not set: the function is misconfigured');
  return name;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Runs a transaction; the cancellation reasons when DynamoDB cancelled it, undefined when it applied. */
async function transact(client: DynamoDBClient, items: TransactWriteItem[]): Promise<CancellationReason[] | undefined> {
  try {
    await client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    return undefined;
  } catch (error) {
    if ((error as Error).name !== 'TransactionCanceledException') throw error;
    // Stryker disable next-line ArrayDeclaration: equivalent: a reason without a code names no failed condition, as no reason does
    return (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
  }
}

/** A lease found in the way whose request no longer runs: taken over only while it is still that very write. */
interface StaleLease {
  owner: string;
  acquiredAt: number;
}

function leasePut(claim: LeaseClaim, thingName: string, stale: StaleLease | undefined, now: number): TransactWriteItem {
  return {
    Put: {
      TableName: leasesTableName(),
      Item: {
        thingName: { S: thingName },
        leaseOwner: { S: claim.owner },
        workflow: { S: claim.holder.workflow },
        requestId: { S: claim.holder.requestId },
        acquiredAt: { N: String(now) },
        leaseExpiresAt: { N: String(now + LEASE_TTL_SECONDS) },
      },
      // The stale lease's owner and write time both: should its request take it again meanwhile, it is live, and stays.
      ConditionExpression: stale ? `${FREE_OR_MINE} OR (leaseOwner = :staleOwner AND acquiredAt = :staleAt)` : FREE_OR_MINE,
      ExpressionAttributeValues: {
        ':me': { S: claim.owner },
        ...(stale && { ':staleOwner': { S: stale.owner }, ':staleAt': { N: String(stale.acquiredAt) } }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

interface Blocker {
  thingName: string;
  owner: string;
  holder: LeaseHolder;
  acquiredAt: number;
}

function blockerOf(thingName: string, item: Record<string, AttributeValue> | undefined): Blocker | undefined {
  if (!item) return undefined;
  return {
    thingName,
    // Stryker disable next-line StringLiteral: equivalent: an item without an owner meets no condition on its owner, whatever stands in for it
    owner: item.leaseOwner?.S ?? '',
    holder: { workflow: (item.workflow?.S ?? 'provision') as Workflow, requestId: item.requestId?.S ?? '' },
    acquiredAt: Number(item.acquiredAt?.N ?? 0),
  };
}

/**
 * Leases every device of the claim, or answers the devices that running requests hold. A lease whose
 * request has ended (or never started) is taken over, under a condition that names that very write, so a
 * live lease is never taken. What this call leased before a refusal is not released: an identical
 * request (the same owner) may be starting on the same leases at this moment, and releasing them would
 * take them from its execution. They are stale once no execution shows for their request
 * (STARTING_GRACE_SECONDS), and taken over then.
 */
export async function acquireLeases(client: DynamoDBClient, claim: LeaseClaim, statusOf: HolderStatus): Promise<HeldDevice[]> {
  for (const chunk of inChunks(claim.thingNames)) {
    const held = await acquireChunk(client, claim, chunk, statusOf);
    if (held.length > 0) return held;
  }
  return [];
}

async function acquireChunk(
  client: DynamoDBClient,
  claim: LeaseClaim,
  chunk: readonly string[],
  statusOf: HolderStatus,
): Promise<HeldDevice[]> {
  const stale = new Map<string, StaleLease>();
  for (let attempt = 1; attempt <= TRANSACTION_ATTEMPTS; attempt++) {
    const now = nowSeconds();
    const reasons = await transact(
      client,
      chunk.map((thingName) => leasePut(claim, thingName, stale.get(thingName), now)),
    );
    if (!reasons) return [];
    const blockers = reasons.flatMap((reason, index) => {
      // Stryker disable next-line ConditionalExpression: equivalent: DynamoDB returns the item only with a failed condition
      const blocker = reason.Code === 'ConditionalCheckFailed' ? blockerOf(chunk[index] as string, reason.Item) : undefined;
      return blocker ? [blocker] : [];
    });
    const held: HeldDevice[] = [];
    for (const owner of new Set(blockers.map((blocker) => blocker.owner))) {
      const ofOwner = blockers.filter((blocker) => blocker.owner === owner);
      const first = ofOwner[0] as Blocker;
      if (isStaleLease(await statusOf(first.holder), first.acquiredAt, now))
        for (const blocker of ofOwner) stale.set(blocker.thingName, blocker);
      else held.push(...ofOwner.map(({ thingName, holder }) => ({ thingName, heldBy: holder })));
    }
    if (held.length > 0) return held;
    // Only stale leases or a concurrent transaction were in the way: try again, taking the stale ones over.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: only how long the next try waits changes
    if (blockers.length === 0) await setTimeout(Math.random() * CONFLICT_WAIT_MS * attempt);
  }
  throw new TransientServiceError('the device leases could not be written: concurrent transactions kept cancelling them');
}

/**
 * Releases the owner's leases on these devices. A device whose lease is no longer the owner's (it
 * expired and another request took it) is left alone: the condition names the owner.
 */
export async function releaseLeases(client: DynamoDBClient, owner: string, thingNames: readonly string[]): Promise<void> {
  for (const chunk of inChunks(thingNames)) await releaseChunk(client, owner, chunk);
}

/** Each round either drops the devices that are no longer the owner's, or counts a cancellation by a concurrent transaction. */
async function releaseChunk(client: DynamoDBClient, owner: string, chunk: readonly string[]): Promise<void> {
  let remaining = [...chunk];
  let cancellations = 0;
  while (remaining.length > 0) {
    const reasons = await transact(
      client,
      remaining.map((thingName) => ({
        Delete: {
          TableName: leasesTableName(),
          Key: { thingName: { S: thingName } },
          ConditionExpression: 'leaseOwner = :me',
          ExpressionAttributeValues: { ':me': { S: owner } },
        },
      })),
    );
    if (!reasons) return;
    const stillOwned = remaining.filter((_, index) => reasons[index]?.Code !== 'ConditionalCheckFailed');
    if (stillOwned.length === remaining.length) {
      cancellations += 1;
      if (cancellations >= TRANSACTION_ATTEMPTS)
        throw new TransientServiceError('the device leases could not be released: concurrent transactions kept cancelling them');
      // Stryker disable next-line ArithmeticOperator: equivalent: only how long the next try waits changes
      await setTimeout(Math.random() * CONFLICT_WAIT_MS * cancellations);
    }
    remaining = stillOwned;
  }
}

/**
 * Marks the request cancelled: its devices' first steps read the marker and leave the devices not started.
 * Writing it again changes nothing that matters, so a repeated cancel is safe. It lasts as long as a lease
 * (longer than any execution), and TTL removes it.
 */
export async function writeCancelMarker(client: DynamoDBClient, owner: string, holder: LeaseHolder): Promise<void> {
  const now = nowSeconds();
  await client.send(
    new PutItemCommand({
      TableName: leasesTableName(),
      Item: {
        thingName: { S: cancelMarkerKey(owner) },
        leaseOwner: { S: owner },
        workflow: { S: holder.workflow },
        requestId: { S: holder.requestId },
        cancelledAt: { N: String(now) },
        leaseExpiresAt: { N: String(now + LEASE_TTL_SECONDS) },
      },
    }),
  );
}

/**
 * Whether the request this owner string names has been cancelled. A strongly consistent read: a cancel answered
 * 202 is seen by every device that starts after it. A marker that cannot be read counts as no cancel: the device
 * then goes through as if the cancel had come a moment later, which leaves nothing half-done, while failing it
 * for the read would fail a request that nobody cancelled.
 */
export async function isCancelled(client: DynamoDBClient, owner: string): Promise<boolean> {
  try {
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: leasesTableName(),
        Key: { thingName: { S: cancelMarkerKey(owner) } },
        ConsistentRead: true,
        ProjectionExpression: 'thingName',
      }),
    );
    return Item !== undefined;
  } catch (error) {
    logger.warn("could not read the request's cancel marker; going on as if it had not been cancelled", {
      errorName: (error as Error).name,
    });
    return false;
  }
}
