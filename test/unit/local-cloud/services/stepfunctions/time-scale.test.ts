import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { applyTimeScale, timeScaleFromEnv } from '../../../../../local-cloud/services/stepfunctions/time-scale.ts';

const definition = {
  StartAt: 'Pause',
  States: {
    Pause: { Type: 'Wait', Seconds: 10, Next: 'EachItem' },
    EachItem: {
      Type: 'Map',
      ItemProcessor: {
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:000000000000:function:work',
            Retry: [
              { ErrorEquals: ['ThrottlingException'], IntervalSeconds: 2, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: 'FULL' },
              { ErrorEquals: ['States.ALL'] },
            ],
            End: true,
          },
        },
      },
      End: true,
    },
  },
} as unknown as StateMachineDefinition;

describe('Step Functions time scale', () => {
  it('runs the definition unchanged at scale 1', () => {
    expect(applyTimeScale(definition, 1)).toEqual({ definition, waitTimeOverrides: {}, retryIntervalOverrides: {} });
  });

  it('overrides every Wait and retry interval, nested ones included, to zero at scale 0', () => {
    expect(applyTimeScale(definition, 0)).toEqual({ definition, waitTimeOverrides: { Pause: 0 }, retryIntervalOverrides: { Work: 0 } });
  });

  it('scales waits, intervals (the default one too) and delay caps, keeping backoff and jitter', () => {
    const { definition: scaled, waitTimeOverrides, retryIntervalOverrides } = applyTimeScale(definition, 0.5);
    expect(waitTimeOverrides).toEqual({});
    expect(retryIntervalOverrides).toEqual({});
    const states = scaled.States as Record<string, any>;
    expect(states.Pause.Seconds).toBe(5);
    expect(states.EachItem.ItemProcessor.States.Work.Retry).toEqual([
      { ErrorEquals: ['ThrottlingException'], IntervalSeconds: 1, BackoffRate: 2, MaxDelaySeconds: 15, JitterStrategy: 'FULL' },
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 0.5 },
    ]);
    expect((definition.States as Record<string, any>).Pause.Seconds).toBe(10);
  });

  it('reads LOCAL_CLOUD_SFN_TIME_SCALE, defaulting to AWS-faithful time', () => {
    expect(timeScaleFromEnv({})).toBe(1);
    expect(timeScaleFromEnv({ LOCAL_CLOUD_SFN_TIME_SCALE: '0.01' })).toBe(0.01);
    expect(() => timeScaleFromEnv({ LOCAL_CLOUD_SFN_TIME_SCALE: '-1' })).toThrow(/LOCAL_CLOUD_SFN_TIME_SCALE/);
  });
});
