import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LambdaFunction, LambdaRegistry } from '../../lambda/lambda-registry.ts';
import type { ServerlessProject } from '../../lambda/serverless-project.ts';
import { isPlainObject } from '../../wire/validation.ts';
import { forEachOwnState, isDistributedMap } from './asl-states.ts';
import type { DistributedMapState } from './distributed-map/map-run.ts';

/** A state machine of `serverless.yml` with each Lambda Task bound to a function of the local registry. */
export interface LocalStateMachine {
  name: string;
  /** Logical id of the CloudFormation resource serverless-step-functions creates, for `Ref`s in the environment. */
  logicalId: string;
  /** Definition with every bound Task's `Resource` replaced by the function's ARN (what AWS stores too). */
  definition: StateMachineDefinition;
  /** Task state name → the function it invokes. ASL state names are unique across nested Map/Parallel scopes. */
  lambdaTasks: ReadonlyMap<string, LambdaFunction>;
  /** Task state name → the Step Functions integration it calls (`startExecution`, `.sync`, `.sync:2`). */
  serviceTasks: ReadonlyMap<string, StartExecutionResource>;
  /** DISTRIBUTED Map state name → its fields and the child state machine its ItemProcessor became. */
  distributedMaps: ReadonlyMap<string, DistributedMap>;
  /** The state machine whose Distributed Map this one is the ItemProcessor of. */
  parentName?: string;
  /** DescribeStateMachine's `loggingConfiguration` and `tracingConfiguration`, as deployed from the project. */
  loggingConfiguration: LoggingConfiguration;
  tracingConfiguration: { enabled: boolean };
}

export interface LoggingConfiguration {
  level: 'ALL' | 'ERROR' | 'FATAL' | 'OFF';
  includeExecutionData: boolean;
  destinations?: { cloudWatchLogsLogGroup: { logGroupArn: string } }[];
}

export type StartExecutionResource = 'startExecution' | 'startExecution.sync' | 'startExecution.sync:2';

export interface DistributedMap {
  state: DistributedMapState;
  /** `<Parent>/<Label or state name>`, which its children run. */
  child: LocalStateMachine;
}

/** A state machine as `serverless.yml` declares it. */
export interface DeclaredStateMachine {
  key: string;
  name: string;
  logicalId: string;
  definition: unknown;
  loggingConfig?: unknown;
  tracingConfig?: unknown;
}

/** The `stepFunctions.stateMachines` section of the project (serverless-step-functions' schema). */
export function stateMachinesOf(project: ServerlessProject): DeclaredStateMachine[] {
  const section = isPlainObject(project.config.stepFunctions) ? project.config.stepFunctions.stateMachines : undefined;
  if (!isPlainObject(section)) return [];
  return Object.entries(section).flatMap(([key, machine]) => {
    if (!isPlainObject(machine)) return [];
    const definition = typeof machine.definition === 'string' ? (JSON.parse(machine.definition) as unknown) : machine.definition;
    const logicalId = logicalIdOf(key, machine);
    // Without `name`, CloudFormation names the machine after its logical id (plus a random suffix on AWS).
    const name = typeof machine.name === 'string' ? machine.name : logicalId;
    return [{ key, name, logicalId, definition, loggingConfig: machine.loggingConfig, tracingConfig: machine.tracingConfig }];
  });
}

/**
 * The definition of the project's state machine `key` (its key under `stepFunctions.stateMachines`) as deployed:
 * its `${file()}` includes and YAML anchors resolved. A copy, which the caller may change.
 */
export function stateMachineDefinition(project: ServerlessProject, key: string): StateMachineDefinition {
  const machine = stateMachinesOf(project).find((declared) => declared.key === key);
  if (!isPlainObject(machine?.definition)) throw new Error(`${project.path} declares no state machine ${key} with a definition`);
  return structuredClone(machine.definition) as unknown as StateMachineDefinition;
}

/**
 * Local values for CloudFormation references to the project's state machines (`{Ref: Id}` and
 * `{"Fn::GetAtt": [Id, Arn]}` both give the ARN), for Lambda environment variables such as STATE_MACHINE_ARN.
 */
export function stateMachineArnResolver(project: ServerlessProject, accountId: string): (value: unknown) => string | undefined {
  const arns = new Map(
    stateMachinesOf(project).map((machine) => [
      machine.logicalId,
      `arn:aws:states:${project.region}:${accountId}:stateMachine:${machine.name}`,
    ]),
  );
  return (value) => {
    if (!isPlainObject(value)) return undefined;
    if (typeof value.Ref === 'string') return arns.get(value.Ref);
    const getAtt = value['Fn::GetAtt'];
    return Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string' ? arns.get(getAtt[0]) : undefined;
  };
}

export function bindStateMachine(
  machine: DeclaredStateMachine,
  lambdas: LambdaRegistry,
  project: ServerlessProject,
  accountId: string,
): LocalStateMachine {
  if (!isPlainObject(machine.definition)) throw new Error(`State machine ${machine.name} has no definition object`);
  return bindDefinition(machine.name, machine.definition, lambdas, {
    logicalId: machine.logicalId,
    loggingConfiguration: loggingConfigurationOf(machine.loggingConfig, project, accountId),
    // serverless-step-functions turns X-Ray on with `tracingConfig.enabled`; CloudFormation's default is off.
    tracingConfiguration: { enabled: isPlainObject(machine.tracingConfig) && machine.tracingConfig.enabled === true },
  });
}

const START_EXECUTION = /^arn:aws[\w-]*:states:::states:(startExecution(?:\.sync(?::2)?)?)$/;

/**
 * Binds the Tasks one execution runs itself; each DISTRIBUTED Map's ItemProcessor becomes a child state machine,
 * bound the same way, and the bound states are written back into the parent's definition (AWS stores the ARNs).
 */
function bindDefinition(
  name: string,
  declared: Record<string, unknown>,
  lambdas: LambdaRegistry,
  deployment: Pick<LocalStateMachine, 'logicalId' | 'loggingConfiguration' | 'tracingConfiguration'>,
  parentName?: string,
): LocalStateMachine {
  const definition = structuredClone(declared) as unknown as StateMachineDefinition;
  const lambdaTasks = new Map<string, LambdaFunction>();
  const serviceTasks = new Map<string, StartExecutionResource>();
  const distributedMaps = new Map<string, DistributedMap>();
  forEachOwnState(definition, (stateName, state) => {
    if (isDistributedMap(state)) {
      const processor = state.ItemProcessor as Record<string, unknown>;
      const { ProcessorConfig: _mode, ...childDefinition } = processor;
      const label = typeof state.Label === 'string' ? state.Label : stateName;
      const child = bindDefinition(`${name}/${label}`, childDefinition, lambdas, deployment, name);
      processor.States = child.definition.States;
      distributedMaps.set(stateName, { state: state as DistributedMapState, child });
      return;
    }
    if (state.Type !== 'Task') return;
    const integration = typeof state.Resource === 'string' ? START_EXECUTION.exec(state.Resource)?.[1] : undefined;
    if (integration) {
      serviceTasks.set(stateName, integration as StartExecutionResource);
      return;
    }
    const fn = lambdaFunctionOf(state.Resource, lambdas);
    if (!fn) {
      throw new Error(
        `State machine ${name}, Task ${stateName}: the local cloud runs only Lambda tasks of serverless.yml ` +
          `(Fn::GetAtt [fn, Arn] or a Lambda ARN) and Step Functions' startExecution; got ${JSON.stringify(state.Resource)}`,
      );
    }
    state.Resource = fn.arn;
    lambdaTasks.set(stateName, fn);
  });
  return { name, ...deployment, definition, lambdaTasks, serviceTasks, distributedMaps, ...(parentName !== undefined && { parentName }) };
}

/**
 * serverless-step-functions' `loggingConfig` as AWS describes it: level (OFF when absent, as CloudFormation
 * deploys it), `includeExecutionData` and each destination log group's ARN, a `Fn::GetAtt` of a log group
 * of the project's `resources` resolved to the ARN CloudFormation gives it.
 */
function loggingConfigurationOf(declared: unknown, project: ServerlessProject, accountId: string): LoggingConfiguration {
  if (!isPlainObject(declared)) return { level: 'OFF', includeExecutionData: false };
  const level = typeof declared.level === 'string' ? (declared.level as LoggingConfiguration['level']) : 'OFF';
  const destinations = (Array.isArray(declared.destinations) ? declared.destinations : []).flatMap((destination) => {
    const logGroupArn = logGroupArnOf(destination, project, accountId);
    return logGroupArn === undefined ? [] : [{ cloudWatchLogsLogGroup: { logGroupArn } }];
  });
  return { level, includeExecutionData: declared.includeExecutionData === true, ...(destinations.length > 0 && { destinations }) };
}

function logGroupArnOf(destination: unknown, project: ServerlessProject, accountId: string): string | undefined {
  if (typeof destination === 'string') return destination;
  const getAtt = isPlainObject(destination) ? destination['Fn::GetAtt'] : undefined;
  if (!Array.isArray(getAtt) || getAtt[1] !== 'Arn' || typeof getAtt[0] !== 'string') return undefined;
  const resources = isPlainObject(project.config.resources) ? project.config.resources.Resources : undefined;
  const resource = isPlainObject(resources) ? resources[getAtt[0]] : undefined;
  const properties = isPlainObject(resource) && isPlainObject(resource.Properties) ? resource.Properties : {};
  const name = project.resolveVariables(properties.LogGroupName);
  return typeof name === 'string' ? `arn:aws:logs:${project.region}:${accountId}:log-group:${name}:*` : undefined;
}

function lambdaFunctionOf(resource: unknown, lambdas: LambdaRegistry): LambdaFunction | undefined {
  if (isPlainObject(resource) && Array.isArray(resource['Fn::GetAtt'])) {
    const [functionKey, attribute] = resource['Fn::GetAtt'] as unknown[];
    return attribute === 'Arn' && typeof functionKey === 'string' ? lambdas.find(functionKey) : undefined;
  }
  if (typeof resource !== 'string') return undefined;
  const arnName = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(resource)?.[1];
  if (!arnName) return undefined;
  return lambdas.find(arnName) ?? [...lambdas.functions.values()].find((fn) => arnName.endsWith(`-${fn.name}`));
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
