import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { LEASE_TTL_SECONDS } from '../domain/device-leases.ts';
import { type FleetDeviceCounts, fleetRunCountsKey } from '../domain/fleet-run-counts.ts';
import { leasesTableName } from './device-leases.ts';

const COUNTS = ['succeeded', 'failed', 'rolledBack', 'notStarted'] as const satisfies readonly (keyof FleetDeviceCounts)[];
const NAMES = Object.fromEntries(COUNTS.map((name) => [`#${name}`, name]));

/**
 * Adds a batch's counts to its run's counter, once: the batch's position goes into the counter's set of counted
 * batches in the same write, under the condition that it is not there yet, so a retried task (or a Map retried
 * whole) never counts a batch twice. The set holds one number per batch: 5,000 batches of a million devices take
 * about 25 KB of the item's 400 KB. Answers false when the batch was already counted.
 */
export async function countBatchOnce(client: DynamoDBClient, owner: string, position: number, counts: FleetDeviceCounts): Promise<boolean> {
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: leasesTableName(),
        Key: { thingName: { S: fleetRunCountsKey(owner) } },
        UpdateExpression: `ADD ${COUNTS.map((name) => `#${name} :${name}`).join(', ')}, #counted :batch SET #expiresAt = :expiresAt`,
        ConditionExpression: 'NOT contains(#counted, :position)',
        ExpressionAttributeNames: { ...NAMES, '#counted': 'batchesCounted', '#expiresAt': 'leaseExpiresAt' },
        ExpressionAttributeValues: {
          ...Object.fromEntries(COUNTS.map((name) => [`:${name}`, { N: String(counts[name]) }])),
          ':batch': { NS: [String(position)] },
          ':position': { N: String(position) },
          // TTL removes the counter with the run's cancel marker, long after any run has ended.
          ':expiresAt': { N: String(Math.floor(Date.now() / 1000) + LEASE_TTL_SECONDS) },
        },
      }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

/** The run's counts so far; undefined before its first batch is counted. The set of counted batches is not read. */
export async function readFleetRunCounts(client: DynamoDBClient, owner: string): Promise<FleetDeviceCounts | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: leasesTableName(),
      Key: { thingName: { S: fleetRunCountsKey(owner) } },
      ProjectionExpression: Object.keys(NAMES).join(', '),
      ExpressionAttributeNames: NAMES,
    }),
  );
  if (!Item) return undefined;
  return Object.fromEntries(COUNTS.map((name) => [name, Number(Item[name]?.N ?? 0)])) as FleetDeviceCounts;
}
