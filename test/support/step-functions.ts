import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  paginateGetExecutionHistory,
  type SFNClient,
} from '@aws-sdk/client-sfn';

export interface WaitOptions {
  /** Give up after this long; a guard against a hung run, not a timing assertion. Default 10 s. */
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/** Polls DescribeExecution until the execution has left RUNNING, and returns the final description. */
export async function waitForExecution(
  client: SFNClient,
  executionArn: string,
  options: WaitOptions = {},
): Promise<DescribeExecutionCommandOutput> {
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

/**
 * Polls the history of an execution (which may not have started yet) until `reached` holds; fails if the execution
 * ends first. Tests cancel mid-run at a point in the history, never after a length of time.
 */
export async function untilHistory(client: SFNClient, executionArn: string, reached: (events: HistoryEvent[]) => boolean): Promise<void> {
  for (;;) {
    const events = await executionHistory(client, executionArn).catch((error: Error) => {
      if (error.name === 'ExecutionDoesNotExist') return [];
      throw error;
    });
    if (reached(events)) return;
    if (events.some((event) => event.type?.startsWith('Execution') && event.type !== 'ExecutionStarted')) {
      throw new Error('the execution ended before the point the test waits for');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
