import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LambdaFunction, LambdaRegistry } from '../../lambda/lambda-registry.ts';
import type { ServerlessProject } from '../../lambda/serverless-project.ts';
import { isPlainObject } from '../../wire/validation.ts';
import { forEachState } from './asl-states.ts';

/** A state machine of `serverless.yml` with each Lambda Task bound to a function of the local registry. */
export interface LocalStateMachine {
  name: string;
  /** Logical id of the CloudFormation resource serverless-step-functions creates, for `Ref`s in the environment. */
  logicalId: string;
  /** Definition with every bound Task's `Resource` replaced by the function's ARN (what AWS stores too). */
  definition: StateMachineDefinition;
  /** Task state name → the function it invokes. ASL state names are unique across nested Map/Parallel scopes. */
  lambdaTasks: ReadonlyMap<string, LambdaFunction>;
}

/** The `stepFunctions.stateMachines` section of the project (serverless-step-functions' schema). */
export function stateMachinesOf(project: ServerlessProject): { key: string; name: string; logicalId: string; definition: unknown }[] {
  const section = isPlainObject(project.config.stepFunctions) ? project.config.stepFunctions.stateMachines : undefined;
  if (!isPlainObject(section)) return [];
  return Object.entries(section).flatMap(([key, machine]) => {
    if (!isPlainObject(machine)) return [];
    const definition = typeof machine.definition === 'string' ? (JSON.parse(machine.definition) as unknown) : machine.definition;
    const logicalId = logicalIdOf(key, machine);
    // Without `name`, CloudFormation names the machine after its logical id (plus a random suffix on AWS).
    return [{ key, name: typeof machine.name === 'string' ? machine.name : logicalId, logicalId, definition }];
  });
}

/**
 * Local values for CloudFormation references to the project's state machines (`{Ref: Id}` and
 * `{"Fn::GetAtt": [Id, Arn]}` both give the ARN), for Lambda environment variables such as STATE_MACHINE_ARN.
 */
export function stateMachineArnResolver(project: ServerlessProject, accountId: string): (value: unknown) => string | undefined {
  const arns = new Map(
    stateMachinesOf(project).map((machine) => [machine.logicalId, `arn:aws:states:${project.region}:${accountId}:stateMachine:${machine.name}`]),
  );
  return (value) => {
    if (!isPlainObject(value)) return undefined;
    if (typeof value.Ref === 'string') return arns.get(value.Ref);
    const getAtt = value['Fn::GetAtt'];
    return Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string' ? arns.get(getAtt[0]) : undefined;
  };
}

export function bindStateMachine(
  machine: { name: string; logicalId: string; definition: unknown },
  lambdas: LambdaRegistry,
): LocalStateMachine {
  if (!isPlainObject(machine.definition)) throw new Error(`State machine ${machine.name} has no definition object`);
  const definition = structuredClone(machine.definition) as unknown as StateMachineDefinition;
  const lambdaTasks = new Map<string, LambdaFunction>();
  forEachState(definition, (stateName, state) => {
    if (state.Type !== 'Task') return;
    const fn = lambdaFunctionOf(state.Resource, lambdas);
    if (!fn) {
      throw new Error(
        `State machine ${machine.name}, Task ${stateName}: the local cloud runs only Lambda tasks of serverless.yml ` +
          `(Fn::GetAtt [fn, Arn] or a Lambda ARN); got ${JSON.stringify(state.Resource)}`,
      );
    }
    state.Resource = fn.arn;
    lambdaTasks.set(stateName, fn);
  });
  return { name: machine.name, logicalId: machine.logicalId, definition, lambdaTasks };
}

function lambdaFunctionOf(resource: unknown, lambdas: LambdaRegistry): LambdaFunction | undefined {
  if (isPlainObject(resource) && Array.isArray(resource['Fn::GetAtt'])) {
    const [functionKey, attribute] = resource['Fn::GetAtt'] as unknown[];
    return attribute === 'Arn' && typeof functionKey === 'string' ? lambdas.find(functionKey) : undefined;
  }
  if (typeof resource !== 'string') return undefined;
  const arnName = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(resource)?.[1];
  if (!arnName) return undefined;
  return (
    lambdas.find(arnName) ??
    [...lambdas.functions.values()].find((fn) => arnName.endsWith(`-${fn.name}`))
  );
}

/** serverless-step-functions' naming: `id` or `name` normalised, else the key with a suffix. */
function logicalIdOf(key: string, machine: Record<string, unknown>): string {
  const custom = typeof machine.id === 'string' ? machine.id : typeof machine.name === 'string' ? machine.name : undefined;
  return custom === undefined ? `${normalizeResourceName(key)}StepFunctionsStateMachine` : normalizeResourceName(custom);
}

/** The Framework's `getNormalizedResourceName`: `provision-device` → `ProvisionDashdevice`. */
function normalizeResourceName(name: string): string {
  const normalized = name.replaceAll('-', 'Dash').replaceAll('_', 'Underscore');
  return normalized.charAt(0).toUpperCase() + normalized.slice(1);
}
