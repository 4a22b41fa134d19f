import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  DescribeEventBusCommand,
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalCloud, type LocalCloud } from '../../../../local-cloud/server.ts';
import { type ServiceCloud, startServiceCloud } from '../../../../local-cloud/service-cloud.ts';
import type { DeadLetter, DeliveryRecord, LambdaTarget } from '../../../../local-cloud/services/eventbridge/delivery.ts';
import type { LocalCloudContext } from '../../../../local-cloud/wire/context.ts';
import { openGate } from '../../../fixtures/serverless-app/handlers/gated.ts';
import { FIXTURE_SERVERLESS_PATH } from '../../../support/fixture-project.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';
import { waitForExecution } from '../../../support/step-functions.ts';
import { ACCOUNT, expectAwsError, REGION } from '../helpers.ts';

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' };
const eventBridgeClient = (url: string, region = REGION) => new EventBridgeClient({ endpoint: url, region, credentials, maxAttempts: 1 });

async function admin<T>(url: string, path: string): Promise<T> {
  const response = await fetch(`${url}/_local/eventbridge/${path}`);
  return (await response.json()) as T;
}
const deliveries = async (url: string) => (await admin<{ deliveries: DeliveryRecord[] }>(url, 'deliveries')).deliveries;
const deadLetters = async (url: string) => (await admin<{ deadLetters: Record<string, DeadLetter[]> }>(url, 'dead-letters')).deadLetters;
/** A bound on how long a background delivery may take to settle; not a timing assertion. */
const SETTLED = { timeout: 10_000, interval: 20 };

/** A full event envelope, as TestEventPattern requires one. */
const envelope = (detail: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '0',
    id: 'a1b2c3',
    'detail-type': 'Order Placed',
    source: 'shop.orders',
    account: ACCOUNT,
    time: '2026-12-07T00:00:00Z',
    region: REGION,
    resources: ['arn:aws:s3:::bucket'],
    detail,
    ...extra,
  });

describe('EventBridge API', () => {
  let cloud: LocalCloud;
  let events: EventBridgeClient;
  beforeEach(async () => {
    cloud = await createLocalCloud({ faults: { quotas: false } });
    events = eventBridgeClient(cloud.url);
  });
  afterEach(async () => {
    events.destroy();
    await cloud.close();
  });

  it('PutEvents answers every entry in order, an EventId or an error code, and counts the failures', async () => {
    const valid: PutEventsRequestEntry = { Source: 'shop.orders', DetailType: 'Order Placed', Detail: '{"id":1}' };
    const { FailedEntryCount, Entries } = await events.send(
      new PutEventsCommand({
        Entries: [
          valid,
          { DetailType: 'Order Placed', Detail: '{}' },
          { Source: 'shop.orders', Detail: '{}' },
          { Source: 'shop.orders', DetailType: 'Order Placed' },
          { ...valid, Detail: 'not json' },
          { ...valid, Detail: '[1, 2]' },
          { ...valid, EventBusName: 'no-such-bus' },
          { ...valid, Source: 'aws.s3' },
        ],
      }),
    );
    expect(FailedEntryCount).toBe(7);
    expect(Entries?.map((entry) => entry.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'InvalidArgument',
      'InvalidArgument',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'ResourceNotFoundException',
      'InvalidArgument',
    ]);
    expect(Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Entries?.[1]?.ErrorMessage).toBe('Parameter Source is not valid. Reason: Source is a required argument.');
    expect(Entries?.[6]?.ErrorMessage).toBe('Event bus no-such-bus does not exist.');
  });

  it('PutEvents refuses more than 10 entries, and entries over 256 KB, as a whole', async () => {
    const entry = { Source: 'shop.orders', DetailType: 'Order Placed', Detail: '{}' };
    const many = await expectAwsError(
      events.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry) })),
      'ValidationException',
      400,
    );
    expect(many.message).toContain("at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10");
    const large = { ...entry, Detail: JSON.stringify({ blob: 'x'.repeat(256 * 1024) }) };
    await expectAwsError(events.send(new PutEventsCommand({ Entries: [large] })), 'ValidationException', 400);
  });

  it('named buses are created, described by name or ARN, listed by prefix and deleted; the default bus stays', async () => {
    const { EventBusArn } = await events.send(new CreateEventBusCommand({ Name: 'fleet-events', Description: 'fleet' }));
    expect(EventBusArn).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/fleet-events`);
    await expectAwsError(events.send(new CreateEventBusCommand({ Name: 'fleet-events' })), 'ResourceAlreadyExistsException', 400);
    expect(await events.send(new DescribeEventBusCommand({ Name: EventBusArn }))).toMatchObject({
      Name: 'fleet-events',
      Arn: EventBusArn,
      Description: 'fleet',
    });
    expect(await events.send(new DescribeEventBusCommand({}))).toMatchObject({
      Name: 'default',
      Arn: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`,
    });
    expect((await events.send(new ListEventBusesCommand({}))).EventBuses?.map((bus) => bus.Name)).toEqual(['default', 'fleet-events']);
    expect((await events.send(new ListEventBusesCommand({ NamePrefix: 'fleet' }))).EventBuses?.map((bus) => bus.Name)).toEqual([
      'fleet-events',
    ]);

    await events.send(new DeleteEventBusCommand({ Name: 'fleet-events' }));
    await expectAwsError(events.send(new DescribeEventBusCommand({ Name: 'fleet-events' })), 'ResourceNotFoundException', 400);
    await expectAwsError(events.send(new DeleteEventBusCommand({ Name: 'default' })), 'ValidationException', 400);
  });

  it('rules are put, described, listed, disabled and enabled; one with targets cannot be deleted', async () => {
    await events.send(new CreateEventBusCommand({ Name: 'fleet-events' }));
    const pattern = JSON.stringify({ source: ['shop.orders'] });
    const { RuleArn } = await events.send(new PutRuleCommand({ Name: 'orders', EventBusName: 'fleet-events', EventPattern: pattern }));
    expect(RuleArn).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:rule/fleet-events/orders`);
    expect((await events.send(new PutRuleCommand({ Name: 'on-default', EventPattern: pattern }))).RuleArn).toBe(
      `arn:aws:events:${REGION}:${ACCOUNT}:rule/on-default`,
    );
    expect(await events.send(new DescribeRuleCommand({ Name: 'orders', EventBusName: 'fleet-events' }))).toMatchObject({
      Name: 'orders',
      State: 'ENABLED',
      EventPattern: pattern,
      EventBusName: 'fleet-events',
    });
    await expectAwsError(events.send(new DescribeRuleCommand({ Name: 'orders' })), 'ResourceNotFoundException', 400);

    await events.send(new DisableRuleCommand({ Name: 'orders', EventBusName: 'fleet-events' }));
    expect(
      (await events.send(new ListRulesCommand({ EventBusName: 'fleet-events' }))).Rules?.map((rule) => [rule.Name, rule.State]),
    ).toEqual([['orders', 'DISABLED']]);
    await events.send(new EnableRuleCommand({ Name: 'orders', EventBusName: 'fleet-events' }));
    expect((await events.send(new DescribeRuleCommand({ Name: 'orders', EventBusName: 'fleet-events' }))).State).toBe('ENABLED');

    const target = { Id: 'fn', Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:orders` };
    expect(await events.send(new PutTargetsCommand({ Rule: 'orders', EventBusName: 'fleet-events', Targets: [target] }))).toMatchObject({
      FailedEntryCount: 0,
    });
    expect((await events.send(new ListTargetsByRuleCommand({ Rule: 'orders', EventBusName: 'fleet-events' }))).Targets).toEqual([target]);
    await expectAwsError(events.send(new DeleteRuleCommand({ Name: 'orders', EventBusName: 'fleet-events' })), 'ValidationException', 400);
    await events.send(new RemoveTargetsCommand({ Rule: 'orders', EventBusName: 'fleet-events', Ids: ['fn'] }));
    await events.send(new DeleteRuleCommand({ Name: 'orders', EventBusName: 'fleet-events' }));
    expect((await events.send(new ListRulesCommand({ EventBusName: 'fleet-events' }))).Rules).toEqual([]);
  });

  it('PutRule refuses a pattern outside the language with InvalidEventPatternException', async () => {
    for (const pattern of [
      { source: 'shop.orders' },
      { source: [{ 'starts-with': 'shop' }] },
      { n: [{ numeric: ['<', 5, '>', 1] }] },
      { name: [{ wildcard: 'a**b' }] },
    ]) {
      const error = await expectAwsError(
        events.send(new PutRuleCommand({ Name: 'bad', EventPattern: JSON.stringify(pattern) })),
        'InvalidEventPatternException',
        400,
      );
      expect(error.message).toMatch(/^Event pattern is not valid\. Reason: /);
    }
  });

  it('PutTargets keeps Lambda function targets and refuses others per entry, as the local cloud delivers to functions only', async () => {
    await events.send(new PutRuleCommand({ Name: 'orders', EventPattern: '{"source":["shop.orders"]}' }));
    const { FailedEntryCount, FailedEntries } = await events.send(
      new PutTargetsCommand({
        Rule: 'orders',
        Targets: [
          { Id: 'fn', Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:orders` },
          { Id: 'queue', Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:orders` },
        ],
      }),
    );
    expect(FailedEntryCount).toBe(1);
    expect(FailedEntries).toEqual([
      { TargetId: 'queue', ErrorCode: 'ValidationException', ErrorMessage: expect.stringContaining('Lambda function targets only') },
    ]);
    expect((await events.send(new ListTargetsByRuleCommand({ Rule: 'orders' }))).Targets?.map((target) => target.Id)).toEqual(['fn']);
  });

  const detail = {
    state: 'running',
    region: 'us-west-2',
    file: 'manifests/fleet.CSV',
    count: 5,
    price: 9.5,
    tags: ['blue', 'green'],
    bucket: { name: 'fleet-manifests' },
    object: { key: 'manifests/fleet.csv', size: 1024 },
    items: [{ sku: 'a-1' }, { sku: 'b-2' }],
    ip: '10.0.0.42',
    empty: null,
  };
  it.each([
    ['prefix', { detail: { object: { key: [{ prefix: 'manifests/' }] } } }, true],
    ['prefix, not matching', { detail: { object: { key: [{ prefix: 'other/' }] } } }, false],
    ['prefix ignoring case', { detail: { file: [{ prefix: { 'equals-ignore-case': 'MANIFESTS/' } }] } }, true],
    ['suffix', { detail: { file: [{ suffix: '.CSV' }] } }, true],
    ['suffix is case-sensitive', { detail: { file: [{ suffix: '.csv' }] } }, false],
    ['equals-ignore-case', { detail: { state: [{ 'equals-ignore-case': 'RUNNING' }] } }, true],
    ['wildcard', { detail: { object: { key: [{ wildcard: 'manifests/*.csv' }] } } }, true],
    ['anything-but a value', { detail: { state: [{ 'anything-but': 'stopped' }] } }, true],
    ['anything-but the value it has', { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } }, false],
    ['anything-but a prefix', { detail: { region: [{ 'anything-but': { prefix: 'us-' } }] } }, false],
    ['anything-but on a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['exists true', { detail: { state: [{ exists: true }] } }, true],
    ['exists false on a present field', { detail: { state: [{ exists: false }] } }, false],
    ['exists false on a missing field', { detail: { missing: [{ exists: false }] } }, true],
    ['exists true on a null value', { detail: { empty: [{ exists: true }] } }, true],
    ['exists true on an object is false (leaves only)', { detail: { bucket: [{ exists: true }] } }, false],
    ['numeric range', { detail: { count: [{ numeric: ['>', 0, '<=', 5] }] } }, true],
    ['numeric range excluding the value', { detail: { count: [{ numeric: ['>', 5] }] } }, false],
    ['numeric equality on a decimal', { detail: { price: [{ numeric: ['=', 9.5] }] } }, true],
    ['numeric on a string is false', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
    ['a number literal', { detail: { count: [5] } }, true],
    [
      'nested detail fields, ANDed',
      { source: ['shop.orders'], detail: { bucket: { name: ['fleet-manifests'] }, object: { size: [1024] } } },
      true,
    ],
    ['nested detail fields, one failing', { detail: { bucket: { name: ['fleet-manifests'] }, object: { size: [1] } } }, false],
    ['an event array matches on any element', { detail: { tags: ['green', 'red'] } }, true],
    ['an event array with no element in the list', { detail: { tags: ['red'] } }, false],
    ['fields of an array of objects', { detail: { items: { sku: [{ prefix: 'b-' }] } } }, true],
    ['envelope resources array', { resources: ['arn:aws:s3:::bucket'] }, true],
    ['cidr', { detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, true],
    ['cidr outside the block', { detail: { ip: [{ cidr: '10.0.1.0/24' }] } }, false],
    ['$or of two branches, one matching', { detail: { $or: [{ state: ['stopped'] }, { count: [{ numeric: ['>=', 5] }] }] } }, true],
    ['$or of two branches, none matching', { detail: { $or: [{ state: ['stopped'] }, { count: [{ numeric: ['>', 5] }] }] } }, false],
    ['values are case-sensitive', { 'detail-type': ['order placed'] }, false],
  ])('TestEventPattern: %s', async (_, pattern, expected) => {
    const { Result } = await events.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: envelope(detail) }));
    expect(Result).toBe(expected);
  });

  it('TestEventPattern needs an event with the envelope fields', async () => {
    const error = await expectAwsError(
      events.send(
        new TestEventPatternCommand({ EventPattern: '{"source":["shop.orders"]}', Event: JSON.stringify({ source: 'shop.orders' }) }),
      ),
      'InvalidEventPatternException',
      400,
    );
    expect(error.message).toContain('id, account, time, region, resources, detail-type');
  });

  it("PutEvents is named in the fault tables and throttled in EventBridge's own error", async () => {
    cloud.admin.configureFaults({ throttle: { PutEvents: 1 } });
    const error = await expectAwsError(
      events.send(new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'Order Placed', Detail: '{}' }] })),
      'ThrottlingException',
      400,
    );
    expect(error.message).toBe('Rate exceeded');
    expect(cloud.admin.metrics().PutEvents).toMatchObject({ calls: 1, throttled: 1 });
  });

  it('an unknown operation is refused, not misread', async () => {
    const response = await fetch(cloud.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSEvents.CreateArchive',
        authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261207/${REGION}/events/aws4_request, SignedHeaders=host, Signature=x`,
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});

describe('events AWS services emit', () => {
  it('go to the default bus in the envelope AWS gives them, and reach the rules that match', async () => {
    let context: LocalCloudContext | undefined;
    const received: unknown[] = [];
    const functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:on-manifest`;
    const target: LambdaTarget = {
      functionArn,
      maximumRetryAttempts: 0,
      maximumEventAgeSeconds: 60,
      invoke: async (event) => received.push(event),
    };
    const cloud = await createLocalCloud({
      faults: { quotas: false },
      timeScale: 0,
      lambdaTargets: (arn) => (arn === functionArn ? target : undefined),
      services: (shared) => {
        context = shared;
        return [];
      },
    });
    const events = eventBridgeClient(cloud.url);
    try {
      const pattern = {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: ['fleet-manifests'] }, object: { key: [{ prefix: 'manifests/' }] } },
      };
      await events.send(new PutRuleCommand({ Name: 'manifests', EventPattern: JSON.stringify(pattern) }));
      await events.send(new PutTargetsCommand({ Rule: 'manifests', Targets: [{ Id: 'fn', Arn: functionArn }] }));
      const objectCreated = (key: string) => ({
        source: 'aws.s3',
        detailType: 'Object Created',
        region: REGION,
        resources: ['arn:aws:s3:::fleet-manifests'],
        detail: { version: '0', bucket: { name: 'fleet-manifests' }, object: { key, size: 5 }, reason: 'PutObject' },
      });
      context?.events.publish(objectCreated('other/ignored.csv'));
      context?.events.publish(objectCreated('manifests/fleet.csv'));

      await expect.poll(() => received.length, SETTLED).toBe(1);
      expect(received[0]).toEqual({
        version: '0',
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        'detail-type': 'Object Created',
        source: 'aws.s3',
        account: ACCOUNT,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        region: REGION,
        resources: ['arn:aws:s3:::fleet-manifests'],
        detail: objectCreated('manifests/fleet.csv').detail,
      });
    } finally {
      events.destroy();
      await cloud.close();
    }
  });
});

describe('EventBridge targets', () => {
  it('a target receives the event, its constant Input, or the part its InputPath selects', async () => {
    const received = new Map<string, unknown[]>();
    const target = (name: string): LambdaTarget => ({
      functionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
      maximumRetryAttempts: 0,
      maximumEventAgeSeconds: 60,
      invoke: async (event) => received.set(name, [...(received.get(name) ?? []), event]),
    });
    const targets = new Map(['whole', 'constant', 'detail'].map((name) => [target(name).functionArn, target(name)]));
    const cloud = await createLocalCloud({ faults: { quotas: false }, timeScale: 0, lambdaTargets: (arn) => targets.get(arn) });
    const events = eventBridgeClient(cloud.url);
    try {
      await events.send(new PutRuleCommand({ Name: 'orders', EventPattern: '{"source":["shop.orders"]}' }));
      const [whole, constant, detail] = [...targets.keys()];
      await events.send(
        new PutTargetsCommand({
          Rule: 'orders',
          Targets: [
            { Id: 'whole', Arn: whole },
            { Id: 'constant', Arn: constant, Input: '{"fixed": true}' },
            { Id: 'detail', Arn: detail, InputPath: '$.detail' },
          ],
        }),
      );
      await events.send(new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'Order Placed', Detail: '{"id": 7}' }] }));

      await expect.poll(() => received.size, SETTLED).toBe(3);
      expect(received.get('whole')).toEqual([
        expect.objectContaining({ source: 'shop.orders', 'detail-type': 'Order Placed', detail: { id: 7 } }),
      ]);
      expect(received.get('constant')).toEqual([{ fixed: true }]);
      expect(received.get('detail')).toEqual([{ id: 7 }]);
    } finally {
      events.destroy();
      await cloud.close();
    }
  });
});

describe('EventBridge rules of a serverless project', () => {
  let service: ServiceCloud;
  let events: EventBridgeClient;
  const FAILED_EVENTS_QUEUE = `arn:aws:sqs:${REGION}:${ACCOUNT}:fixture-failed-events-local`;

  beforeAll(async () => {
    service = await startServiceCloud({ serverlessPath: FIXTURE_SERVERLESS_PATH, port: 0, timeScale: 0, faults: { quotas: false } });
    events = eventBridgeClient(service.url);
  });
  afterAll(async () => {
    events.destroy();
    await service.close();
  });
  beforeEach(() => service.cloud.admin.reset());

  const put = (entry: PutEventsRequestEntry) => events.send(new PutEventsCommand({ Entries: [{ DetailType: 'Fixture', ...entry }] }));
  const settled = async () => {
    await expect
      .poll(async () => (await deliveries(service.url)).every((delivery) => delivery.outcome !== 'in-progress'), SETTLED)
      .toBe(true);
    return deliveries(service.url);
  };

  it("each function's eventBridge event is a rule on its bus, named and targeted as the Framework deploys it", async () => {
    expect((await events.send(new ListRulesCommand({}))).Rules?.map((rule) => rule.Name)).toEqual([
      'fixture-app-local-gated-rule-1',
      'fixture-rejections',
    ]);
    expect(await events.send(new DescribeRuleCommand({ Name: 'fixture-large-orders', EventBusName: 'fixture-bus' }))).toMatchObject({
      State: 'ENABLED',
      EventPattern: JSON.stringify({ source: ['fixture.orders'], detail: { amount: [{ numeric: ['>', 100] }] } }),
    });
    expect((await events.send(new ListTargetsByRuleCommand({ Rule: 'fixture-rejections' }))).Targets).toEqual([
      {
        Id: 'fixture-rejections-target',
        Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:fixture-app-local-reject`,
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: FAILED_EVENTS_QUEUE },
      },
    ]);
  });

  it('PutEvents answers before the target has run; the delivery succeeds once the handler returns', async () => {
    const { FailedEntryCount, Entries } = await put({ Source: 'fixture.gated', Detail: JSON.stringify({ key: 'first' }) });
    expect(FailedEntryCount).toBe(0);
    // The handler cannot return before its gate opens, so the answer above did not wait for it.
    expect(await deliveries(service.url)).toEqual([
      expect.objectContaining({ eventId: Entries?.[0]?.EventId, rule: 'fixture-app-local-gated-rule-1', outcome: 'in-progress' }),
    ]);

    openGate('first');
    expect(await settled()).toEqual([expect.objectContaining({ outcome: 'succeeded', deliveryAttempts: 1, invocations: 1 })]);
  });

  it("an event on a named bus reaches that bus's rule when its numeric pattern matches, and no other", async () => {
    await put({ Source: 'fixture.orders', EventBusName: 'fixture-bus', Detail: '{"amount": 50}' });
    await put({ Source: 'fixture.orders', Detail: '{"amount": 150}' });
    expect(await deliveries(service.url)).toEqual([]);

    const { Entries } = await put({
      Source: 'fixture.orders',
      EventBusName: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/fixture-bus`,
      Detail: '{"amount": 150}',
    });
    expect(await settled()).toEqual([
      expect.objectContaining({
        eventId: Entries?.[0]?.EventId,
        eventBusName: 'fixture-bus',
        rule: 'fixture-large-orders',
        targetId: 'fixture-large-orders-target',
        outcome: 'succeeded',
      }),
    ]);
  });

  it('a function that throws is run again per its maximumRetryAttempts, then its invocation record goes to its onFailure queue', async () => {
    await put({ Source: 'fixture.rejections', Detail: '{"reason": "no stock"}' });

    expect(await settled()).toEqual([
      expect.objectContaining({
        outcome: 'dead-lettered',
        deliveryAttempts: 1,
        invocations: 2,
        error: { type: 'RejectedError', message: 'rejected by the fixture' },
        deadLetterArn: FAILED_EVENTS_QUEUE,
      }),
    ]);
    const letters = (await deadLetters(service.url))[FAILED_EVENTS_QUEUE];
    expect(letters).toHaveLength(1);
    expect(letters?.[0]?.origin).toBe('lambda-on-failure');
    expect(JSON.parse(letters?.[0]?.body ?? '{}')).toMatchObject({
      requestContext: {
        condition: 'RetriesExhausted',
        approximateInvokeCount: 2,
        functionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:fixture-app-local-reject:$LATEST`,
      },
      requestPayload: { source: 'fixture.rejections', detail: { reason: 'no stock' } },
      responsePayload: { errorType: 'RejectedError', errorMessage: 'rejected by the fixture' },
    });
  });

  it("a target EventBridge cannot deliver to is retried within the target's retry policy, then sent to its dead-letter queue", async () => {
    const queue = `arn:aws:sqs:${REGION}:${ACCOUNT}:undeliverable`;
    const missing = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:not-deployed`;
    const { RuleArn } = await events.send(new PutRuleCommand({ Name: 'to-nowhere', EventPattern: '{"source":["fixture.nowhere"]}' }));
    await events.send(
      new PutTargetsCommand({
        Rule: 'to-nowhere',
        Targets: [{ Id: 'gone', Arn: missing, RetryPolicy: { MaximumRetryAttempts: 2 }, DeadLetterConfig: { Arn: queue } }],
      }),
    );
    const { Entries } = await put({ Source: 'fixture.nowhere', Detail: '{"n": 1}', Time: new Date('2026-01-02T03:04:05Z') });

    expect(await settled()).toEqual([
      expect.objectContaining({ outcome: 'dead-lettered', deliveryAttempts: 3, invocations: 0, deadLetterArn: queue }),
    ]);
    const [letter] = (await deadLetters(service.url))[queue] ?? [];
    expect(letter?.attributes).toEqual({
      RULE_ARN: RuleArn,
      TARGET_ARN: missing,
      ERROR_CODE: 'RESOURCE_NOT_FOUND',
      ERROR_MESSAGE: `Function not found: ${missing}`,
      EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
      RETRY_ATTEMPTS: '2',
    });
    expect(JSON.parse(letter?.body ?? '{}')).toMatchObject({
      id: Entries?.[0]?.EventId,
      source: 'fixture.nowhere',
      time: '2026-01-02T03:04:05Z',
      detail: { n: 1 },
    });
  });

  it('a disabled rule delivers nothing; enabled again, it delivers', async () => {
    const rule = { Name: 'fixture-large-orders', EventBusName: 'fixture-bus' };
    const order = { Source: 'fixture.orders', EventBusName: 'fixture-bus', Detail: '{"amount": 500}' };
    await events.send(new DisableRuleCommand(rule));
    await put(order);
    expect(await deliveries(service.url)).toEqual([]);

    await events.send(new EnableRuleCommand(rule));
    await put(order);
    expect(await settled()).toEqual([expect.objectContaining({ rule: 'fixture-large-orders', outcome: 'succeeded' })]);
  });

  it("a reset puts the project's rules back as deployed, and forgets deliveries and dead letters", async () => {
    await put({ Source: 'fixture.rejections', Detail: '{}' });
    await settled();
    await events.send(new RemoveTargetsCommand({ Rule: 'fixture-rejections', Ids: ['fixture-rejections-target'] }));
    await events.send(new DeleteRuleCommand({ Name: 'fixture-rejections' }));

    await service.cloud.admin.reset();
    expect((await events.send(new ListTargetsByRuleCommand({ Rule: 'fixture-rejections' }))).Targets?.map((target) => target.Id)).toEqual([
      'fixture-rejections-target',
    ]);
    expect(await deliveries(service.url)).toEqual([]);
    expect(await deadLetters(service.url)).toEqual({});
  });
});

describe("the service's Provisioning Requested rule", () => {
  const cloud = useServiceCloud();

  it('an event put on the default bus, as `aws events put-events` puts it, starts a provisioning execution', async () => {
    const events = eventBridgeClient(cloud.url, cloud.project.region);
    try {
      const device = { thingName: 'event-sensor-001', principal: await cloud.createCertificate(), coreDeviceThingName: 'core-a' };
      const { FailedEntryCount } = await events.send(
        new PutEventsCommand({
          Entries: [
            { Source: 'iot-provisioning-workflow', DetailType: 'Provisioning Requested', Detail: JSON.stringify({ devices: [device] }) },
          ],
        }),
      );
      expect(FailedEntryCount).toBe(0);

      const stateMachineArn = cloud.stateMachineArn('provision');
      const started = async () => (await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
      await expect.poll(async () => (await started()).length, SETTLED).toBe(1);
      const [execution] = await started();
      expect(execution?.name).toMatch(/^evt-/);
      expect((await waitForExecution(cloud.sfn, execution?.executionArn as string)).status).toBe('SUCCEEDED');
      expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['event-sensor-001']);
    } finally {
      events.destroy();
    }
  });
});
