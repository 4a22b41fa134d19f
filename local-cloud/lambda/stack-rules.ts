import { createHash } from 'node:crypto';
import { LOCAL_ACCOUNT_ID } from '../config.ts';
import { busNameOf, type LambdaTarget, type LambdaTargets, parseFunctionArn, type RuleDefinition } from '../services/eventbridge/index.ts';
import type { EventTargetRecord } from '../store.ts';
import { isPlainObject } from '../wire/validation.ts';
import type { LambdaRegistry } from './lambda-registry.ts';
import type { ServerlessProject } from './serverless-project.ts';

/** Lambda's defaults for asynchronous invocation (a function without `maximumRetryAttempts` / `maximumEventAge`). */
const DEFAULT_ASYNC_RETRY_ATTEMPTS = 2;
const DEFAULT_ASYNC_EVENT_AGE_SECONDS = 21_600;
/** EventBridge caps rule names and target ids at 64 characters; the Framework hashes longer ones. */
const MAX_NAME_LENGTH = 64;

/**
 * The rules the Serverless Framework deploys for the functions' `eventBridge` events: one rule per event, on
 * `eventBus` (default, a name, or a bus ARN), named `name` or `<function>-rule-<n>`, with one Lambda target
 * (id `<rule>-target`) carrying the event's `retryPolicy` and `deadLetterQueueArn`, as the Framework
 * compiles them. Scheduled rules are not emulated: they are left out.
 */
export function stackRulesOf(project: ServerlessProject, lambdas: LambdaRegistry): RuleDefinition[] {
  const rules: RuleDefinition[] = [];
  for (const fn of lambdas.functions.values()) {
    const events = functionConfig(project, fn.name).events;
    if (!Array.isArray(events)) continue;
    events.forEach((event, index) => {
      const rule = isPlainObject(event) && isPlainObject(event.eventBridge) ? event.eventBridge : undefined;
      if (!rule || rule.pattern === undefined) return;
      const where = `functions.${fn.name}.events[${index}].eventBridge`;
      if (rule.inputTransformer !== undefined)
        throw new Error(`${where}.inputTransformer: the local cloud does not emulate input transformers`);
      const name = typeof rule.name === 'string' ? rule.name : hashedName(`${fn.deployedName}-rule-${index + 1}`, `rule-${index + 1}`);
      const retryPolicy = isPlainObject(rule.retryPolicy) ? rule.retryPolicy : undefined;
      const deadLetterArn =
        rule.deadLetterQueueArn === undefined ? undefined : queueArn(project, rule.deadLetterQueueArn, `${where}.deadLetterQueueArn`);
      const target: EventTargetRecord = {
        Id: hashedName(`${name}-target`, 'target'),
        Arn: fn.arn,
        ...(rule.input !== undefined && { Input: JSON.stringify(rule.input) }),
        ...(typeof rule.inputPath === 'string' && { InputPath: rule.inputPath }),
        ...(retryPolicy && {
          RetryPolicy: {
            ...(typeof retryPolicy.maximumRetryAttempts === 'number' && { MaximumRetryAttempts: retryPolicy.maximumRetryAttempts }),
            ...(typeof retryPolicy.maximumEventAge === 'number' && { MaximumEventAgeInSeconds: retryPolicy.maximumEventAge }),
          },
        }),
        ...(deadLetterArn && { DeadLetterConfig: { Arn: deadLetterArn } }),
      };
      rules.push({
        eventBusName: busNameOf(rule.eventBus),
        name,
        eventPattern: JSON.stringify(rule.pattern),
        state: rule.enabled === false ? 'DISABLED' : 'ENABLED',
        ...(typeof rule.description === 'string' && { description: rule.description }),
        targets: [target],
      });
    });
  }
  return rules;
}

/**
 * The project's functions as EventBridge targets, by deployed name, each with its own asynchronous-invocation
 * settings: `maximumRetryAttempts`, `maximumEventAge` and `destinations.onFailure` (checked at start).
 * A function ARN of another account reaches none of them.
 */
export function lambdaTargetsOf(project: ServerlessProject, lambdas: LambdaRegistry): LambdaTargets {
  const targets = new Map<string, LambdaTarget>();
  for (const fn of lambdas.functions.values()) {
    const config = functionConfig(project, fn.name);
    const destinations = isPlainObject(config.destinations) ? config.destinations : {};
    const onFailure =
      destinations.onFailure === undefined
        ? undefined
        : destinationArn(project, destinations.onFailure, `functions.${fn.name}.destinations.onFailure`);
    targets.set(fn.deployedName, {
      functionArn: fn.arn,
      maximumRetryAttempts: typeof config.maximumRetryAttempts === 'number' ? config.maximumRetryAttempts : DEFAULT_ASYNC_RETRY_ATTEMPTS,
      maximumEventAgeSeconds: typeof config.maximumEventAge === 'number' ? config.maximumEventAge : DEFAULT_ASYNC_EVENT_AGE_SECONDS,
      ...(onFailure && { onFailure }),
      invoke: (event) => lambdas.invoke(fn.name, event),
    });
  }
  return (functionArn) => {
    const parsed = parseFunctionArn(functionArn);
    return parsed?.accountId === LOCAL_ACCOUNT_ID ? targets.get(parsed.functionName) : undefined;
  };
}

function functionConfig(project: ServerlessProject, name: string): Record<string, unknown> {
  const functions = isPlainObject(project.config.functions) ? project.config.functions : {};
  const config = functions[name];
  return isPlainObject(config) ? config : {};
}

/** The Framework's names over 64 characters: a prefix, the MD5 of the whole, and the suffix. */
function hashedName(name: string, suffix: string): string {
  if (name.length <= MAX_NAME_LENGTH) return name;
  return `${name.slice(0, 31 - suffix.length)}${createHash('md5').update(name).digest('hex')}-${suffix}`;
}

/** `destinations.onFailure`: an ARN, or `{type, arn}` whose `arn` may be a `Fn::GetAtt` of a queue. */
function destinationArn(project: ServerlessProject, destination: unknown, where: string): string {
  return queueArn(project, isPlainObject(destination) && 'arn' in destination ? destination.arn : destination, where);
}

/**
 * A queue's ARN: a string as given, or `Fn::GetAtt: [<AWS::SQS::Queue>, Arn]`, named `QueueName` or, as
 * CloudFormation names a queue it names itself, `<stack>-<logical id>` (without CloudFormation's random suffix).
 */
function queueArn(project: ServerlessProject, value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  const getAtt = isPlainObject(value) && Array.isArray(value['Fn::GetAtt']) ? (value['Fn::GetAtt'] as unknown[]) : undefined;
  const resources =
    isPlainObject(project.config.resources) && isPlainObject(project.config.resources.Resources) ? project.config.resources.Resources : {};
  const [logicalId, attribute] = getAtt ?? [];
  const resource = typeof logicalId === 'string' ? resources[logicalId] : undefined;
  if (attribute !== 'Arn' || !isPlainObject(resource) || resource.Type !== 'AWS::SQS::Queue') {
    throw new Error(
      `${where}: the local cloud resolves an ARN string or Fn::GetAtt [<AWS::SQS::Queue resource>, Arn], not ${JSON.stringify(value)}`,
    );
  }
  const properties = project.resolveVariables(resource.Properties ?? {}) as Record<string, unknown>;
  const name =
    typeof properties.QueueName === 'string' ? properties.QueueName : `${project.service}-${project.stage}-${logicalId as string}`;
  return `arn:aws:sqs:${project.region}:${LOCAL_ACCOUNT_ID}:${name}`;
}
