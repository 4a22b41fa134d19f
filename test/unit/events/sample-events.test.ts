import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deprovisioningRequestSchema } from '../../../functions/domain/deprovisioning-request.ts';
import { provisioningRequestSchema } from '../../../functions/domain/provisioning-request.ts';
import { validate } from '../../../functions/domain/validation.ts';
import { loadServerlessProject, stateMachineDefinition } from '../../../local-cloud/index.ts';

/**
 * `sls invoke local -f <fn> --path events/<fn>.json` is how a user tries one task by hand, so each task's
 * sample event must carry what its state machine hands the function. A Task's input is its `Parameters`
 * or, inside a Map, the iteration's `ItemSelector` plus what earlier states and Catches of the iteration
 * wrote at their `ResultPath`s.
 */
interface State {
  Type: string;
  Resource?: { 'Fn::GetAtt'?: [string, string] } | string;
  Parameters?: Record<string, unknown>;
  ItemSelector?: Record<string, unknown>;
  ItemBatcher?: { BatchInput?: unknown };
  ItemProcessor?: { States: Record<string, State> };
  ResultPath?: string | null;
  Catch?: { ResultPath?: string }[];
}

interface TaskInput {
  machine: string;
  state: string;
  functionName: string;
  /** Keys the function always receives. */
  required: string[];
  /** Keys that earlier states of the same iteration may have added. */
  optional: string[];
}

const keysOf = (payloadTemplate: Record<string, unknown>) => Object.keys(payloadTemplate).map((key) => key.replace(/\.\$$/, ''));
const topLevelField = (path: string | null | undefined) => /^\$\.([A-Za-z]+)/.exec(path ?? '')?.[1];

function taskInputs(machine: string, states: Record<string, State>, iteration?: { selector: string[]; written: string[] }): TaskInput[] {
  return Object.entries(states).flatMap(([name, state]): TaskInput[] => {
    if (state.Type === 'Map' && state.ItemProcessor) {
      const inner = Object.values(state.ItemProcessor.States);
      const written = inner.flatMap((each) =>
        [each.ResultPath, ...(each.Catch ?? []).map((caught) => caught.ResultPath)].map(topLevelField),
      );
      // A batched Map hands each iteration `{BatchInput, Items}`, its selected items in `Items`.
      const selector = state.ItemBatcher
        ? ['Items', ...(state.ItemBatcher.BatchInput ? ['BatchInput'] : [])]
        : state.ItemSelector
          ? keysOf(state.ItemSelector)
          : [];
      return taskInputs(machine, state.ItemProcessor.States, {
        selector,
        written: [...new Set(written.filter((field) => field !== undefined))],
      });
    }
    const functionName = typeof state.Resource === 'object' ? state.Resource['Fn::GetAtt']?.[0] : undefined;
    if (state.Type !== 'Task' || !functionName) return [];
    if (state.Parameters) return [{ machine, state: name, functionName, required: keysOf(state.Parameters), optional: [] }];
    // A task outside a Map with no Parameters gets the whole state: nothing to hold its event to.
    if (!iteration?.selector.length) return [];
    return [{ machine, state: name, functionName, required: iteration.selector, optional: iteration.written }];
  });
}

const project = await loadServerlessProject();
const inputs = ['provision', 'deprovision', 'provisionFleet'].flatMap((machine) =>
  taskInputs(machine, stateMachineDefinition(project, machine).States as unknown as Record<string, State>),
);
const eventFile = (functionName: string) => `${functionName.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}.json`;
const sampleEvent = (functionName: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../events/${eventFile(functionName)}`, import.meta.url), 'utf8'));

describe('sample events', () => {
  it.each([...new Set(inputs.map((input) => input.functionName))])(
    'events/ holds the input %s receives in one of its states',
    (functionName) => {
      const keys = Object.keys(sampleEvent(functionName));
      const mismatches = inputs
        .filter((input) => input.functionName === functionName)
        .map((input) => ({
          state: `${input.machine}/${input.state}`,
          missing: input.required.filter((key) => !keys.includes(key)),
          unexpected: keys.filter((key) => !input.required.includes(key) && !input.optional.includes(key)),
        }));
      expect(
        mismatches.some(({ missing, unexpected }) => missing.length === 0 && unexpected.length === 0),
        JSON.stringify(mismatches),
      ).toBe(true);
    },
  );

  // A trigger's sample must be a request the service accepts, or `sls invoke local` shows only a 400.
  it.each([
    ['startProvisioning', provisioningRequestSchema, (event: Record<string, unknown>) => JSON.parse(event.body as string)],
    ['handleProvisioningEvent', provisioningRequestSchema, (event: Record<string, unknown>) => event.detail],
    ['startDeprovisioning', deprovisioningRequestSchema, (event: Record<string, unknown>) => JSON.parse(event.body as string)],
  ] as const)('the request in the sample event of %s is valid', (functionName, schema, requestOf) => {
    expect(validate(schema, requestOf(sampleEvent(functionName)))).toMatchObject({ ok: true });
  });
});
