import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../../support/task-fixtures.ts';

type Middleware = typeof import('../../../../functions/lambda/middleware.ts');
type Powertools = typeof import('../../../../functions/lambda/powertools.ts');

/** What an invocation printed (log lines and metric lines are JSON, one a line), and how it ended. */
async function printed(run: () => Promise<unknown>): Promise<{ lines: Record<string, any>[]; text: string; outcome: unknown }> {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  let outcome: unknown;
  try {
    outcome = await run().catch((error: unknown) => error);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const text = chunks.join('');
  return {
    lines: text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>),
    text,
    outcome,
  };
}

/** The Lambda wiring of every handler (functions/lambda/middleware.ts): log keys, metrics, error reporting, the early timeout. */
describe('handler middleware', () => {
  let middleware: Middleware;
  let powertools: Powertools;
  const saved = { level: process.env.POWERTOOLS_LOG_LEVEL, metrics: process.env.POWERTOOLS_METRICS_DISABLED };

  beforeEach(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    // Loaded afresh for each test with these settings: Stryker credits what a module builds when it loads (the early
    // timeout) to the test that loads it, so that `npm run mutation` runs a mutant of it against these tests.
    vi.resetModules();
    powertools = await import('../../../../functions/lambda/powertools.ts');
    middleware = await import('../../../../functions/lambda/middleware.ts');
  });
  afterAll(() => {
    process.env.POWERTOOLS_LOG_LEVEL = saved.level;
    process.env.POWERTOOLS_METRICS_DISABLED = saved.metrics;
  });

  it("puts a task's request id and execution name on its log lines, and no invocation's keys on the next one's", async () => {
    const task = middleware.taskHandler('inspect', async (_input: { correlation?: { requestId: string; executionName: string } }) => {
      powertools.logger.warn('working');
      return 'done';
    });
    const first = await printed(() =>
      task({ correlation: { requestId: 'request-1', executionName: 'execution-1' } }, lambdaContext(30_000)),
    );
    expect(first.outcome).toBe('done');
    expect(first.lines).toEqual([expect.objectContaining({ message: 'working', requestId: 'request-1', executionName: 'execution-1' })]);
    const second = await printed(() => task({}, lambdaContext(30_000)));
    expect(second.lines).toHaveLength(1);
    expect(second.lines[0]).not.toHaveProperty('requestId');
    expect(second.lines[0]).not.toHaveProperty('executionName');
  });

  it("keeps no key a trigger's invocation appended for the next one", async () => {
    const trigger = middleware.triggerHandler(async (event: { requestId?: string }) => {
      if (event.requestId) powertools.logger.appendKeys({ requestId: event.requestId });
      powertools.logger.warn('answering');
      return 'answered';
    });
    expect((await printed(() => trigger({ requestId: 'request-1' }, lambdaContext(30_000)))).lines).toEqual([
      expect.objectContaining({ requestId: 'request-1' }),
    ]);
    const next = await printed(() => trigger({}, lambdaContext(30_000)));
    expect(next.outcome).toBe('answered');
    expect(next.lines[0]).not.toHaveProperty('requestId');
  });

  it('prints nothing for an invocation that records no metric and logs nothing, and the metrics of one that records some', async () => {
    const quiet = await printed(() => middleware.taskHandler('inspect', async () => 'done')({}, lambdaContext(30_000)));
    expect(quiet).toEqual({ lines: [], text: '', outcome: 'done' });
    const counting = middleware.triggerHandler(async () => {
      powertools.metrics.addMetric('Counted', 'Count', 2);
      return 'counted';
    });
    const counted = await printed(() => counting({}, lambdaContext(30_000)));
    expect(counted.lines).toEqual([
      expect.objectContaining({
        Counted: 2,
        _aws: expect.objectContaining({ CloudWatchMetrics: [expect.objectContaining({ Namespace: 'IoTProvisioning' })] }),
      }),
    ]);
  });

  it('logs a failed step with its error, counts a throttle under the step, and lets the error go on unchanged', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const failing = (error: Error) => middleware.taskHandler('register', async () => Promise.reject(error));
    const answer = await printed(() => failing(throttled)({}, lambdaContext(30_000)));
    expect(answer.outcome).toBe(throttled);
    expect(answer.lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: 'WARN',
          message: 'step failed',
          step: 'register',
          errorName: 'ThrottlingException',
          errorMessage: 'Rate exceeded',
        }),
        expect.objectContaining({ Throttled: 1, step: 'register' }),
      ]),
    );
    expect(answer.lines).toHaveLength(2);
    const refused = Object.assign(new Error('no such thing'), { name: 'ResourceNotFoundException' });
    const notThrottled = await printed(() => failing(refused)({}, lambdaContext(30_000)));
    expect(notThrottled.outcome).toBe(refused);
    expect(notThrottled.lines).toEqual([expect.objectContaining({ message: 'step failed', errorName: 'ResourceNotFoundException' })]);
  });

  it('names a transient failure without an AWS error code TransientServiceError, the original as its cause', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { outcome } = await printed(() =>
      middleware.taskHandler('register', async () => Promise.reject(reset))({}, lambdaContext(30_000)),
    );
    expect(outcome).toMatchObject({ name: 'TransientServiceError', message: 'Error: read ECONNRESET', cause: reset });
  });

  it('ends a task half a second before the deadline: with 400 ms left, a step of 100 ms is not begun', async () => {
    const step = middleware.taskHandler('inspect', () => new Promise((resolve) => setTimeout(() => resolve('done'), 100)));
    const { outcome } = await printed(() => step({}, lambdaContext(400)));
    expect(outcome).toMatchObject({ name: 'TransientServiceError' });
    expect(await printed(() => step({}, lambdaContext(2_000)))).toMatchObject({ outcome: 'done' });
  });
});

describe('the shared Powertools instances', () => {
  afterEach(() => vi.unstubAllEnvs());

  it.each([
    { service: undefined, namespace: undefined, named: 'iot-provisioning-workflow', inNamespace: 'IoTProvisioning' },
    { service: 'line-7', namespace: 'Factory', named: 'line-7', inNamespace: 'Factory' },
  ])(
    'name the service $named in the metrics namespace $inNamespace when the environment sets $service and $namespace',
    async ({ service, namespace, named, inNamespace }) => {
      vi.stubEnv('POWERTOOLS_SERVICE_NAME', service);
      vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', namespace);
      vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
      vi.resetModules();
      const { logger, metrics } = await import('../../../../functions/lambda/powertools.ts');
      const { lines } = await printed(async () => {
        logger.info('probe');
        metrics.addMetric('Probe', 'Count', 1);
        metrics.publishStoredMetrics();
      });
      expect(lines.find((line) => line.message === 'probe')?.service).toBe(named);
      const metricLine = lines.find((line) => line._aws);
      expect(metricLine?.service).toBe(named);
      expect(metricLine?._aws.CloudWatchMetrics[0].Namespace).toBe(inNamespace);
    },
  );
});
