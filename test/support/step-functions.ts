import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  paginateGetExecutionHistory,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';

export interface WaitOptions {
  /** Give up after this long; a guard against a hung run, not a timing assertion. Default 10 s. */
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/** Polls DescribeExecution until the execution has left RUNNING, and returns the final description. */
export async function waitForExecution(client: SFNClient, executionArn: string, options: WaitOptions = {}): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const description = await client.send(new DescribeExecutionCommand({ executionArn }));
    if (description.status !== 'RUNNING') return description;
    if (Date.now() > deadline) throw new Error(`Execution ${executionArn} still RUNNING after ${options.timeoutMs ?? 10_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 20));
  }
}

/** The whole history, following nextToken. */
export async function executionHistory(client: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client }, { executionArn })) events.push(...(page.events ?? []));
  return events;
}
