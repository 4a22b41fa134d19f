import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CERTIFICATE_STILL_ATTACHED, RETRIED_ERROR_NAMES, THING_STILL_HAS_PRINCIPALS } from '../../../functions/domain/errors.ts';
import { quotasFromEnvironment, throttlingRetrier } from '../../../functions/domain/pacing.ts';
import { loadServerlessProject, stateMachineDefinition } from '../../../local-cloud/index.ts';
import { forEachState } from '../../../local-cloud/services/stepfunctions/asl-states.ts';

/** asl-validator ships no types; this is the part of its API the test uses. */
type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

interface State {
  Type: string;
  Resource?: unknown;
  Retry?: Retrier[];
}

const MACHINES = ['provision', 'deprovision'] as const;

const project = await loadServerlessProject();

function load(name: string): { States: Record<string, State> } {
  return stateMachineDefinition(project, name) as unknown as { States: Record<string, State> };
}

/** Every state, nested Map and Parallel states included, by name. */
function allStates(definition: { States: Record<string, State> }): [string, State][] {
  const states: [string, State][] = [];
  forEachState(definition, (name, state) => states.push([name, state as unknown as State]));
  return states;
}

/** Tasks that invoke a function of serverless.yml: the plugin's `Fn::GetAtt` form, or a plain Lambda ARN. */
function isLambdaTask(state: State): boolean {
  if (state.Type !== 'Task') return false;
  const resource = state.Resource;
  if (typeof resource === 'string')
    return /^arn:aws[a-z-]*:lambda:/.test(resource) || resource.startsWith('arn:aws:states:::lambda:invoke');
  return typeof resource === 'object' && resource !== null && 'Fn::GetAtt' in resource;
}

const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];
/** Names that attach, rollback and removal throw while IoT's detachment is still propagating. */
const DETACHMENT_PROPAGATING = [THING_STILL_HAS_PRINCIPALS, CERTIFICATE_STILL_ATTACHED];
/**
 * What every task retries: throttling (IoT answers 400, Greengrass 429, same name), the services'
 * 5xx errors and the functions' TransientServiceError — the product's own list, so they cannot drift.
 */
const TRANSIENT_ERRORS = RETRIED_ERROR_NAMES.filter((name) => !DETACHMENT_PROPAGATING.includes(name));
/** Step Functions accepts MaxDelaySeconds below one year (31,622,400 s is the largest valid value). */
const MAX_DELAY_SECONDS_LIMIT = 31_622_400;

describe.each(MACHINES)('statemachines/%s.asl.yaml', (name) => {
  const definition = load(name);
  const states = allStates(definition);
  const retriers = states.flatMap(([path, state]) => (state.Retry ?? []).map((retrier) => [path, retrier] as const));
  const lambdaTasks = states.filter(([, state]) => isLambdaTask(state));

  it('is valid Amazon States Language (JSONPath)', () => {
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('ends every execution that reaches its summary by publishing its completion, then releasing its device leases', () => {
    const whole = definition as unknown as {
      TimeoutSeconds?: number;
      States: Record<string, State & { Next?: string; End?: boolean; Catch?: { Next: string }[] }>;
    };
    // No timeout: a lease is held for as long as its execution runs, whatever that takes (device-leases.ts).
    expect(whole.TimeoutSeconds).toBeUndefined();
    expect(whole.States.SummarizeRequest?.Next).toBe('PublishCompletion');
    expect(whole.States.PublishCompletion).toMatchObject({
      Type: 'Task',
      Next: 'ReleaseDevices',
      ResultPath: null,
      Catch: [{ Next: 'ReleaseDevices' }],
    });
    expect(whole.States.ReleaseDevices).toMatchObject({ Type: 'Task', End: true, ResultPath: null });
  });

  it('has Lambda tasks to check', () => {
    expect(lambdaTasks.length).toBeGreaterThan(0);
  });

  // asl-validator checks none of the following.
  it('uses only JitterStrategy FULL or NONE', () => {
    for (const [path, retrier] of retriers) {
      if (retrier.JitterStrategy !== undefined) expect(['FULL', 'NONE'], path).toContain(retrier.JitterStrategy);
    }
  });

  it('never shrinks the backoff (BackoffRate ≥ 1)', () => {
    for (const [path, retrier] of retriers) {
      if (retrier.BackoffRate !== undefined) expect(retrier.BackoffRate, path).toBeGreaterThanOrEqual(1);
    }
  });

  it('keeps MaxDelaySeconds a positive integer below one year', () => {
    for (const [path, retrier] of retriers) {
      if (retrier.MaxDelaySeconds === undefined) continue;
      expect(Number.isInteger(retrier.MaxDelaySeconds), path).toBe(true);
      expect(retrier.MaxDelaySeconds, path).toBeGreaterThanOrEqual(1);
      expect(retrier.MaxDelaySeconds, path).toBeLessThanOrEqual(MAX_DELAY_SECONDS_LIMIT);
    }
  });

  it('keeps IntervalSeconds and MaxAttempts non-negative integers', () => {
    for (const [path, retrier] of retriers) {
      if (retrier.IntervalSeconds !== undefined) {
        expect(Number.isInteger(retrier.IntervalSeconds) && retrier.IntervalSeconds >= 1, path).toBe(true);
      }
      if (retrier.MaxAttempts !== undefined) {
        expect(Number.isInteger(retrier.MaxAttempts) && retrier.MaxAttempts >= 0, path).toBe(true);
      }
    }
  });

  it('retries no error name the functions never throw', () => {
    const known = new Set([...RETRIED_ERROR_NAMES, ...LAMBDA_SERVICE_ERRORS, 'Lambda.ClientExecutionTimeoutException']);
    for (const [path, retrier] of retriers)
      for (const error of retrier.ErrorEquals) expect(known.has(error), `${path} retries ${error}`).toBe(true);
  });

  it('never retries States.ALL (a bug or a validation error must not be retried)', () => {
    for (const [path, retrier] of retriers) expect(retrier.ErrorEquals, path).not.toContain('States.ALL');
  });

  it.each(lambdaTasks.map(([path, state]) => [path, state] as const))('task %s has the standard retriers', (path, state) => {
    const retry = state.Retry ?? [];
    const covering = (error: string) => retry.find((retrier) => retrier.ErrorEquals.includes(error));

    for (const error of LAMBDA_SERVICE_ERRORS) expect(covering(error), `${path} retries ${error}`).toBeDefined();

    // Many executions retry the same quota at once: without jitter they would retry in lockstep.
    for (const error of TRANSIENT_ERRORS) {
      const retrier = covering(error);
      expect(retrier, `${path} retries ${error}`).toBeDefined();
      expect(retrier?.JitterStrategy, `${path}: ${error} retried with FULL jitter`).toBe('FULL');
      expect(retrier?.MaxDelaySeconds, `${path}: ${error} retried with a MaxDelaySeconds cap`).toBeDefined();
    }
  });
});

/** Every stage serverless.yml configures, with the environment its functions get there. */
async function stageEnvironments(): Promise<[string, NodeJS.ProcessEnv][]> {
  const { config } = await loadServerlessProject({ env: {} });
  const stages = Object.keys(config.params as Record<string, unknown>).filter((stage) => stage !== 'default');
  return Promise.all(
    stages.map(async (stage) => {
      const project = await loadServerlessProject({ stage, env: {} });
      const provider = project.config.provider as { environment: NodeJS.ProcessEnv };
      return [stage, provider.environment] as [string, NodeJS.ProcessEnv];
    }),
  );
}

describe('the throttling retrier of every Lambda task', async () => {
  const environments = await stageEnvironments();

  it('is checked for the deployed stages and the local one', () => {
    expect(environments.map(([stage]) => stage)).toEqual(expect.arrayContaining(['local', 'dev', 'prod']));
  });

  it.each(environments)('is the one pacing.ts derives from the quotas of stage %s', (_, environment) => {
    const derived = throttlingRetrier(quotasFromEnvironment(environment));
    for (const name of MACHINES) {
      for (const [path, state] of allStates(load(name)).filter(([, candidate]) => isLambdaTask(candidate))) {
        const retrier = state.Retry?.find((candidate) => candidate.ErrorEquals.includes('ThrottlingException'));
        const { ErrorEquals: _errors, ...policy } = retrier ?? { ErrorEquals: [] };
        expect(policy, `${name}: ${path}`).toEqual(derived);
      }
    }
  });
});
