import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadServerlessProject } from '../../local-cloud/lambda/serverless-project.ts';
import { stateMachinesOf } from '../../local-cloud/services/stepfunctions/state-machine-definitions.ts';

/** The YAML definitions, as serverless.yml resolves them, are the JSON ones they replace: same states, same key order. */
const FILES = { provision: 'provision', deprovision: 'deprovision', provisionFleet: 'provision-fleet' } as const;
const machines = stateMachinesOf(await loadServerlessProject({ stage: 'dev' }));

describe.each(Object.entries(FILES))('state machine %s', (key, file) => {
  it(`resolves to statemachines/${file}.asl.json`, () => {
    const json = readFileSync(new URL(`../../statemachines/${file}.asl.json`, import.meta.url), 'utf8');
    const resolved = machines.find((machine) => machine.key === key)?.definition;
    expect(resolved).toEqual(JSON.parse(json));
    expect(JSON.stringify(resolved, null, 2)).toBe(json.trimEnd());
  });
});
