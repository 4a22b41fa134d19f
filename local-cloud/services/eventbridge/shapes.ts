import type { StringShape, StructureShape } from '../../wire/validation.ts';

/** Constraints of the EventBridge model (events-2015-10-07) for the members the emulated operations take. */

const busName: StringShape = { type: 'string', min: 1, max: 256, pattern: '[/\\.\\-_A-Za-z0-9]+' };
const busNameOrArn: StringShape = {
  type: 'string',
  min: 1,
  max: 1600,
  pattern: '(arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{12}:event-bus\\/)?[/\\.\\-_A-Za-z0-9]+',
};
const ruleName: StringShape = { type: 'string', min: 1, max: 64, pattern: '[\\.\\-_A-Za-z0-9]+' };
const description: StringShape = { type: 'string', max: 512 };
const eventPattern: StringShape = { type: 'string', max: 4096 };
const nextToken: StringShape = { type: 'string', min: 1, max: 2048 };
const limit = { type: 'integer', min: 1, max: 100 } as const;
const namePrefix: StringShape = { type: 'string', min: 1, max: 256, pattern: '[/\\.\\-_A-Za-z0-9]+' };
const ruleState: StringShape = { type: 'string', enum: ['ENABLED', 'DISABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS'] };
const targetId: StringShape = { type: 'string', min: 1, max: 64, pattern: '[\\.\\-_A-Za-z0-9]+' };

export const SHAPES: Readonly<Record<string, StructureShape>> = {
  CreateEventBus: { type: 'structure', required: ['Name'], members: { Name: busName, Description: description } },
  DescribeEventBus: { type: 'structure', members: { Name: busNameOrArn } },
  DeleteEventBus: { type: 'structure', required: ['Name'], members: { Name: busName } },
  ListEventBuses: { type: 'structure', members: { NamePrefix: namePrefix, NextToken: nextToken, Limit: limit } },
  PutRule: {
    type: 'structure',
    required: ['Name'],
    members: { Name: ruleName, EventPattern: eventPattern, State: ruleState, Description: description, EventBusName: busNameOrArn },
  },
  DescribeRule: { type: 'structure', required: ['Name'], members: { Name: ruleName, EventBusName: busNameOrArn } },
  DeleteRule: {
    type: 'structure',
    required: ['Name'],
    members: { Name: ruleName, EventBusName: busNameOrArn, Force: { type: 'boolean' } },
  },
  EnableRule: { type: 'structure', required: ['Name'], members: { Name: ruleName, EventBusName: busNameOrArn } },
  DisableRule: { type: 'structure', required: ['Name'], members: { Name: ruleName, EventBusName: busNameOrArn } },
  ListRules: {
    type: 'structure',
    members: { NamePrefix: { ...ruleName, min: 1 }, EventBusName: busNameOrArn, NextToken: nextToken, Limit: limit },
  },
  PutTargets: {
    type: 'structure',
    required: ['Rule', 'Targets'],
    members: {
      Rule: ruleName,
      EventBusName: busNameOrArn,
      Targets: {
        type: 'list',
        min: 1,
        max: 10,
        member: {
          type: 'structure',
          required: ['Id', 'Arn'],
          members: {
            Id: targetId,
            Arn: { type: 'string', min: 1, max: 1600 },
            Input: { type: 'string', max: 8192 },
            InputPath: { type: 'string', max: 256 },
            RetryPolicy: {
              type: 'structure',
              members: {
                MaximumRetryAttempts: { type: 'integer', min: 0, max: 185 },
                MaximumEventAgeInSeconds: { type: 'integer', min: 60, max: 86_400 },
              },
            },
            DeadLetterConfig: { type: 'structure', members: { Arn: { type: 'string', min: 1, max: 1600 } } },
          },
        },
      },
    },
  },
  ListTargetsByRule: {
    type: 'structure',
    required: ['Rule'],
    members: { Rule: ruleName, EventBusName: busNameOrArn, NextToken: nextToken, Limit: limit },
  },
  RemoveTargets: {
    type: 'structure',
    required: ['Rule', 'Ids'],
    members: {
      Rule: ruleName,
      EventBusName: busNameOrArn,
      Ids: { type: 'list', min: 1, max: 100, member: targetId },
      Force: { type: 'boolean' },
    },
  },
  TestEventPattern: {
    type: 'structure',
    required: ['EventPattern', 'Event'],
    members: { EventPattern: eventPattern, Event: { type: 'string' } },
  },
  PutEvents: {
    type: 'structure',
    required: ['Entries'],
    members: {
      Entries: {
        type: 'list',
        min: 1,
        max: 10,
        member: {
          type: 'structure',
          members: {
            Source: { type: 'string' },
            DetailType: { type: 'string' },
            Detail: { type: 'string' },
            Resources: { type: 'list', member: { type: 'string' } },
            EventBusName: busNameOrArn,
            TraceHeader: { type: 'string', min: 1, max: 500 },
          },
        },
      },
    },
  },
};
