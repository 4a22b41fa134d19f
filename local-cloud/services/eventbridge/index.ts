import { randomUUID } from 'node:crypto';
import type { EventBusRecord, EventRuleRecord, EventTargetRecord, Stored } from '../../store.ts';
import { AwsJsonError, awsJsonProtocol } from '../../wire/aws-json.ts';
import type { LocalCloudContext, ServiceEvent } from '../../wire/context.ts';
import { listPages, paginate } from '../../wire/pagination.ts';
import type { EmulatedService } from '../../wire/service.ts';
import { describeViolations, isPlainObject, requireValid, type Violation } from '../../wire/validation.ts';
import { createDeliveryEngine, type DeadLetter, type DeliveryRecord, type LambdaTargets, parseFunctionArn } from './delivery.ts';
import { type CompiledPattern, compilePattern, InvalidPatternError } from './event-pattern.ts';
import { SHAPES } from './shapes.ts';

export { type LambdaTarget, type LambdaTargets, parseFunctionArn } from './delivery.ts';

const protocol = awsJsonProtocol(
  'AWSEvents',
  'InternalException',
  {
    throttled: ['ThrottlingException', 'Rate exceeded', 400],
    internalError: ['InternalException', 'Internal service error', 500],
    unavailable: ['ServiceUnavailable', 'Service unavailable', 503],
  },
  '1.1',
);

const DEFAULT_BUS = 'default';
/** AWS's quota of targets per rule. */
const MAX_TARGETS_PER_RULE = 5;
/** PutEvents' limit on the entries of one request, counted as AWS counts an entry's size. */
const MAX_PUT_EVENTS_BYTES = 256 * 1024;
const DEFAULT_PAGE_SIZE = 100;
const RECENT_EVENTS = 1_000;

/** A rule as a stack declares it (an `AWS::Events::Rule`, or a function's `eventBridge` event). */
export interface RuleDefinition {
  eventBusName: string;
  name: string;
  eventPattern: string;
  state: EventRuleRecord['state'];
  description?: string;
  targets: EventTargetRecord[];
}

export interface EventBridgeOptions {
  /** The functions Lambda targets reach; without them every Lambda target is undeliverable. */
  lambdaTargets?: LambdaTargets;
  /** 1 = AWS's retry waits, 0 = none. */
  timeScale?: number;
}

export interface EventBridgeService extends EmulatedService {
  /** Puts an AWS service's event on the default bus (context.events forwards here). */
  publish(event: ServiceEvent): void;
  deliveries(): DeliveryRecord[];
  deadLetters(): Record<string, DeadLetter[]>;
}

type Input = Record<string, unknown>;

class EventBridgeError extends AwsJsonError {}

/** Coral names members in lowerCamelCase in its messages (`at 'entries.1.member.source'`), where the model has PascalCase. */
function invalid(violations: readonly Violation[]): EventBridgeError {
  const camel = (path: string) => path.replace(/(^|\.)([A-Z])/g, (_, dot: string, letter: string) => dot + letter.toLowerCase());
  const renamed = violations.map(({ path, message }) => ({
    path: camel(path),
    message: message.replace(`at '${path}'`, `at '${camel(path)}'`),
  }));
  return new EventBridgeError('ValidationException', describeViolations(renamed));
}

function invalidPattern(error: unknown): EventBridgeError {
  if (error instanceof InvalidPatternError)
    return new EventBridgeError('InvalidEventPatternException', `Event pattern is not valid. Reason: ${error.message}`);
  throw error;
}

/** The bus a name or an ARN names (`…:event-bus/<name>`); no name is the default bus. */
export function busNameOf(nameOrArn: unknown): string {
  if (typeof nameOrArn !== 'string') return DEFAULT_BUS;
  return nameOrArn.startsWith('arn:') ? nameOrArn.slice(nameOrArn.indexOf(':event-bus/') + ':event-bus/'.length) : nameOrArn;
}

/**
 * Creates the default bus (every account has it, and no call deletes it), and a stack's buses and rules
 * where missing: at start and after every reset, as a deployed stack's rules are there. A rule that
 * exists is left as it is.
 */
export function seedEventBridge(context: LocalCloudContext, rules: readonly RuleDefinition[]): void {
  const { eventBuses } = context.store.state;
  const ensureBus = (name: string) => {
    if (!eventBuses.has(name)) eventBuses.set(name, { name, createdAt: context.clock.now() });
  };
  ensureBus(DEFAULT_BUS);
  for (const definition of rules) {
    ensureBus(definition.eventBusName);
    const busRules = context.store.state.rules.in(definition.eventBusName);
    if (busRules.has(definition.name)) continue;
    // A pattern outside the language stops the start, as it would fail the deployment.
    compilePattern(definition.eventPattern);
    busRules.set(definition.name, {
      name: definition.name,
      eventPattern: definition.eventPattern,
      state: definition.state,
      ...(definition.description !== undefined && { description: definition.description }),
      targets: definition.targets,
    });
  }
}

/**
 * EventBridge (awsJson1.1, `AWSEvents.<Operation>`): buses, rules with event patterns, Lambda targets
 * delivered to asynchronously with their retry policy and dead-letter queue, PutEvents and TestEventPattern.
 * Buses and rules are one namespace for all regions, like the rest of the local cloud's state; ARNs carry
 * the caller's region.
 */
export function createEventBridgeService(context: LocalCloudContext, options: EventBridgeOptions = {}): EventBridgeService {
  const { store, accountId } = context;
  const engine = createDeliveryEngine({
    clock: context.clock,
    lambdaTargets: options.lambdaTargets ?? (() => undefined),
    timeScale: options.timeScale ?? 1,
  });
  const patterns = new Map<string, CompiledPattern>();
  const patternOf = (text: string) => {
    let compiled = patterns.get(text);
    if (!compiled) {
      compiled = compilePattern(text);
      patterns.set(text, compiled);
    }
    return compiled;
  };

  const busArn = (region: string, name: string) => `arn:aws:events:${region}:${accountId}:event-bus/${name}`;
  const ruleArn = (region: string, bus: string, rule: string) =>
    `arn:aws:events:${region}:${accountId}:rule/${bus === DEFAULT_BUS ? '' : `${bus}/`}${rule}`;
  const rulesOf = (bus: Stored<EventBusRecord>) => store.state.rules.in(bus.name);
  const busOf = (nameOrArn: unknown): Stored<EventBusRecord> => {
    const name = busNameOf(nameOrArn);
    const bus = store.state.eventBuses.get(name);
    if (!bus) throw new EventBridgeError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
    return bus;
  };
  const ruleOf = (input: Input, member: 'Name' | 'Rule'): [Stored<EventBusRecord>, Stored<EventRuleRecord>] => {
    const bus = busOf(input.EventBusName);
    const rule = rulesOf(bus).get(input[member] as string);
    if (!rule)
      throw new EventBridgeError('ResourceNotFoundException', `Rule ${String(input[member])} does not exist on EventBus ${bus.name}.`);
    return [bus, rule];
  };
  const describeBus = (bus: Stored<EventBusRecord>, region: string) => ({
    Name: bus.name,
    Arn: busArn(region, bus.name),
    ...(bus.description !== undefined && { Description: bus.description }),
    CreationTime: bus.createdAt / 1000,
    LastModifiedTime: bus.createdAt / 1000,
  });
  const describeRule = (bus: Stored<EventBusRecord>, rule: Stored<EventRuleRecord>, region: string) => ({
    Name: rule.name,
    Arn: ruleArn(region, bus.name, rule.name),
    EventPattern: rule.eventPattern,
    State: rule.state,
    ...(rule.description !== undefined && { Description: rule.description }),
    EventBusName: bus.name,
  });
  const invalidToken = () => new EventBridgeError('ValidationException', 'The provided NextToken is not valid.');
  const setState = (input: Input, state: EventRuleRecord['state']) => {
    const [bus, rule] = ruleOf(input, 'Name');
    rulesOf(bus).set(rule.name, { ...rule, state });
    return {};
  };

  /**
   * The latest events put on each bus, matched or not: what a user inspects (`GET /_local/eventbridge/events`)
   * where AWS would have an archive or a catch-all rule. Bounded like the delivery log.
   */
  const recentEvents: { eventBusName: string; event: Record<string, unknown> }[] = [];
  /** Matches an event against the enabled rules of its bus and starts a delivery per target; returns at once. */
  const route = (bus: Stored<EventBusRecord>, event: Record<string, unknown>, region: string) => {
    recentEvents.push({ eventBusName: bus.name, event });
    if (recentEvents.length > RECENT_EVENTS) recentEvents.shift();
    for (const rule of rulesOf(bus).values()) {
      if (rule.state === 'DISABLED' || !patternOf(rule.eventPattern)(event)) continue;
      for (const target of rule.targets) {
        engine.deliver({ event, eventBusName: bus.name, ruleName: rule.name, ruleArn: ruleArn(region, bus.name, rule.name), target });
      }
    }
  };
  const envelope = (
    entry: { source: string; detailType: string; detail: unknown; resources: string[]; time?: number },
    region: string,
  ) => ({
    version: '0',
    id: randomUUID(),
    'detail-type': entry.detailType,
    source: entry.source,
    account: accountId,
    time: new Date(entry.time ?? context.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: entry.resources,
    detail: entry.detail,
  });

  const operations: Record<string, (input: Input, region: string) => unknown> = {
    CreateEventBus(input, region) {
      const name = input.Name as string;
      if (store.state.eventBuses.has(name))
        throw new EventBridgeError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
      if (name.includes('/'))
        throw new EventBridgeError('ValidationException', 'The local cloud does not emulate partner event buses (names with a /).');
      const bus: EventBusRecord = {
        name,
        createdAt: context.clock.now(),
        ...(typeof input.Description === 'string' && { description: input.Description }),
      };
      store.state.eventBuses.set(name, bus);
      return { EventBusArn: busArn(region, name), ...(bus.description !== undefined && { Description: bus.description }) };
    },
    DescribeEventBus: (input, region) => describeBus(busOf(input.Name), region),
    DeleteEventBus(input) {
      if (input.Name === DEFAULT_BUS) throw new EventBridgeError('ValidationException', 'Cannot delete event bus default.');
      store.state.rules.in(input.Name as string).clear();
      store.state.eventBuses.delete(input.Name as string);
      return {};
    },
    ListEventBuses(input, region) {
      const prefix = typeof input.NamePrefix === 'string' ? input.NamePrefix : '';
      const page = paginate(
        store.state.eventBuses,
        { ...(typeof input.NextToken === 'string' && { nextToken: input.NextToken }), maxResults: input.Limit as number },
        DEFAULT_PAGE_SIZE,
        invalidToken,
        (bus) => bus.name.startsWith(prefix),
      );
      return { EventBuses: page.items.map((bus) => describeBus(bus, region)), ...(page.nextToken && { NextToken: page.nextToken }) };
    },
    PutRule(input, region) {
      if (input.ScheduleExpression !== undefined)
        throw new EventBridgeError('ValidationException', 'The local cloud does not emulate scheduled rules (ScheduleExpression).');
      if (typeof input.EventPattern !== 'string')
        throw new EventBridgeError('ValidationException', 'Parameter(s) EventPattern or ScheduleExpression must be specified.');
      try {
        compilePattern(input.EventPattern);
      } catch (error) {
        throw invalidPattern(error);
      }
      const bus = busOf(input.EventBusName);
      const name = input.Name as string;
      const existing = rulesOf(bus).get(name);
      rulesOf(bus).set(name, {
        name,
        eventPattern: input.EventPattern,
        state: (input.State as EventRuleRecord['state'] | undefined) ?? 'ENABLED',
        ...(typeof input.Description === 'string' && { description: input.Description }),
        targets: existing?.targets ?? [],
      });
      return { RuleArn: ruleArn(region, bus.name, name) };
    },
    DescribeRule(input, region) {
      const [bus, rule] = ruleOf(input, 'Name');
      return { ...describeRule(bus, rule, region), CreatedBy: accountId };
    },
    DeleteRule(input) {
      const bus = busOf(input.EventBusName);
      const rule = rulesOf(bus).get(input.Name as string);
      if (rule && rule.targets.length > 0) throw new EventBridgeError('ValidationException', "Rule can't be deleted since it has targets.");
      rulesOf(bus).delete(input.Name as string);
      return {};
    },
    EnableRule: (input) => setState(input, 'ENABLED'),
    DisableRule: (input) => setState(input, 'DISABLED'),
    ListRules(input, region) {
      const bus = busOf(input.EventBusName);
      const prefix = typeof input.NamePrefix === 'string' ? input.NamePrefix : '';
      const page = paginate(
        rulesOf(bus),
        { ...(typeof input.NextToken === 'string' && { nextToken: input.NextToken }), maxResults: input.Limit as number },
        DEFAULT_PAGE_SIZE,
        invalidToken,
        (rule) => rule.name.startsWith(prefix),
      );
      return { Rules: page.items.map((rule) => describeRule(bus, rule, region)), ...(page.nextToken && { NextToken: page.nextToken }) };
    },
    PutTargets(input) {
      const [bus, rule] = ruleOf(input, 'Rule');
      const failed: { TargetId: string; ErrorCode: string; ErrorMessage: string }[] = [];
      const accepted: EventTargetRecord[] = [];
      for (const target of input.Targets as Input[]) {
        const problem = targetProblem(target);
        if (problem) failed.push({ TargetId: target.Id as string, ErrorCode: 'ValidationException', ErrorMessage: problem });
        else accepted.push(targetRecord(target));
      }
      // A target with an id the rule has replaces it in place; the others join at the end.
      const targets = [...rule.targets];
      for (const target of accepted) {
        const index = targets.findIndex((old) => old.Id === target.Id);
        if (index >= 0) targets[index] = target;
        else targets.push(target);
      }
      if (targets.length > MAX_TARGETS_PER_RULE) {
        throw new EventBridgeError(
          'LimitExceededException',
          `The requested resource exceeds the maximum number allowed (${MAX_TARGETS_PER_RULE} targets per rule).`,
        );
      }
      rulesOf(bus).set(rule.name, { ...rule, targets });
      return { FailedEntryCount: failed.length, FailedEntries: failed };
    },
    ListTargetsByRule(input) {
      const [, rule] = ruleOf(input, 'Rule');
      const page = paginate(
        listPages(rule.targets, (target) => target.Id),
        { ...(typeof input.NextToken === 'string' && { nextToken: input.NextToken }), maxResults: input.Limit as number },
        DEFAULT_PAGE_SIZE,
        invalidToken,
      );
      return { Targets: page.items, ...(page.nextToken && { NextToken: page.nextToken }) };
    },
    RemoveTargets(input) {
      const [bus, rule] = ruleOf(input, 'Rule');
      const ids = new Set(input.Ids as string[]);
      rulesOf(bus).set(rule.name, { ...rule, targets: rule.targets.filter((target) => !ids.has(target.Id)) });
      return { FailedEntryCount: 0, FailedEntries: [] };
    },
    TestEventPattern(input) {
      let pattern: CompiledPattern;
      try {
        pattern = compilePattern(input.EventPattern as string);
      } catch (error) {
        throw invalidPattern(error);
      }
      const event = parseObject(input.Event as string);
      const missing = ['id', 'account', 'source', 'time', 'region', 'resources', 'detail-type'].filter(
        (field) => event?.[field] === undefined,
      );
      if (!event || missing.length > 0) {
        throw new EventBridgeError(
          'InvalidEventPatternException',
          `Event is not valid. Reason: it must be a JSON object with ${missing.join(', ') || 'the envelope fields'}`,
        );
      }
      return { Result: pattern(event) };
    },
    PutEvents(input, region) {
      const entries = input.Entries as Input[];
      if (entries.reduce((size, entry) => size + entrySize(entry), 0) > MAX_PUT_EVENTS_BYTES) {
        throw new EventBridgeError(
          'ValidationException',
          `Total size of the entries in the request is over the limit (${MAX_PUT_EVENTS_BYTES} bytes).`,
        );
      }
      const results = entries.map((entry) => {
        const problem = entryProblem(entry);
        if (problem) return { ErrorCode: problem[0], ErrorMessage: problem[1] };
        const name = busNameOf(entry.EventBusName);
        const bus = store.state.eventBuses.get(name);
        if (!bus) return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${name} does not exist.` };
        const event = envelope(
          {
            source: entry.Source as string,
            detailType: entry.DetailType as string,
            detail: JSON.parse(entry.Detail as string),
            resources: (entry.Resources as string[] | undefined) ?? [],
            ...(typeof entry.Time === 'number' && { time: entry.Time * 1000 }),
          },
          region,
        );
        route(bus, event, region);
        return { EventId: event.id };
      });
      return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
    },
  };

  return {
    signingName: 'events',
    resolve(request) {
      const name = protocol.operationName(request);
      const operation = Object.hasOwn(operations, name) ? operations[name] : undefined;
      if (!operation) throw new EventBridgeError('UnknownOperationException', `The local cloud does not emulate EventBridge ${name}`);
      const shape = SHAPES[name];
      return {
        name,
        run: async () => {
          const input = protocol.parseBody(request);
          if (shape) requireValid(input, shape, invalid);
          return protocol.jsonResponse(operation(input, request.region), request.requestId);
        },
      };
    },
    encodeError: (error, requestId) => protocol.encodeError(error, requestId),
    adminRoutes: [
      { method: 'GET', path: 'eventbridge/deliveries', handle: () => ({ deliveries: engine.deliveries() }) },
      { method: 'GET', path: 'eventbridge/dead-letters', handle: () => ({ deadLetters: engine.deadLetters() }) },
      { method: 'GET', path: 'eventbridge/events', handle: () => ({ events: [...recentEvents] }) },
    ],
    reset: () => {
      recentEvents.length = 0;
      return engine.reset();
    },
    publish(event) {
      route(busOf(DEFAULT_BUS), envelope(event, event.region), event.region);
    },
    deliveries: () => engine.deliveries(),
    deadLetters: () => engine.deadLetters(),
  };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Why PutEvents refuses an entry, as an entry error: [ErrorCode, ErrorMessage]. */
function entryProblem(entry: Input): [string, string] | undefined {
  for (const member of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof entry[member] !== 'string' || entry[member] === '') {
      return ['InvalidArgument', `Parameter ${member} is not valid. Reason: ${member} is a required argument.`];
    }
  }
  if ((entry.Source as string).startsWith('aws.'))
    return ['InvalidArgument', 'Parameter Source is not valid. Reason: Source cannot start with "aws.".'];
  if (!parseObject(entry.Detail as string)) return ['MalformedDetail', 'Detail is malformed.'];
  return undefined;
}

/** An entry's size as AWS counts it: 14 bytes for a Time, the UTF-8 bytes of Source, DetailType, Detail and each resource. */
function entrySize(entry: Input): number {
  const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  const resources = Array.isArray(entry.Resources) ? entry.Resources.reduce((size: number, resource) => size + bytes(resource), 0) : 0;
  return (entry.Time === undefined ? 0 : 14) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail) + resources;
}

/** Why the local cloud cannot keep a target: it delivers to Lambda functions only, and reads Input as JSON. */
function targetProblem(target: Input): string | undefined {
  if (!parseFunctionArn(target.Arn as string)) {
    return `The local cloud delivers to Lambda function targets only, not ${String(target.Arn)}`;
  }
  if (target.InputTransformer !== undefined) return 'The local cloud does not emulate InputTransformer; use Input or InputPath';
  if ([target.Input, target.InputPath].filter((value) => value !== undefined).length > 1)
    return 'Only one of Input and InputPath may be set';
  if (typeof target.Input === 'string' && parseObject(`{"input":${target.Input}}`) === undefined) return 'Input is not valid JSON';
  return undefined;
}

function targetRecord(target: Input): EventTargetRecord {
  const retry = target.RetryPolicy as EventTargetRecord['RetryPolicy'] | undefined;
  const deadLetter = target.DeadLetterConfig as EventTargetRecord['DeadLetterConfig'] | undefined;
  return {
    Id: target.Id as string,
    Arn: target.Arn as string,
    ...(typeof target.Input === 'string' && { Input: target.Input }),
    ...(typeof target.InputPath === 'string' && { InputPath: target.InputPath }),
    ...(retry && { RetryPolicy: retry }),
    ...(deadLetter?.Arn && { DeadLetterConfig: { Arn: deadLetter.Arn } }),
  };
}
