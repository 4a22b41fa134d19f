import { isPlainObject } from '../../wire/validation.ts';

type StateVisitor = (name: string, state: Record<string, unknown>) => void;

/** Visits every state of a definition, including those nested in Map `ItemProcessor`/`Iterator` and Parallel branches. */
export function forEachState(scope: unknown, visit: StateVisitor): void {
  visitStates(scope, visit, true);
}

/**
 * Visits the states one execution of the definition runs itself: a DISTRIBUTED Map's ItemProcessor is a state
 * machine of its own, whose states run in child executions.
 */
export function forEachOwnState(scope: unknown, visit: StateVisitor): void {
  visitStates(scope, visit, false);
}

export function isDistributedMap(state: Record<string, unknown>): boolean {
  const processor = state.ItemProcessor;
  return (
    state.Type === 'Map' &&
    isPlainObject(processor) &&
    isPlainObject(processor.ProcessorConfig) &&
    processor.ProcessorConfig.Mode === 'DISTRIBUTED'
  );
}

function visitStates(scope: unknown, visit: StateVisitor, intoDistributedMaps: boolean): void {
  if (!isPlainObject(scope) || !isPlainObject(scope.States)) return;
  for (const [name, state] of Object.entries(scope.States)) {
    if (!isPlainObject(state)) continue;
    visit(name, state);
    if (intoDistributedMaps || !isDistributedMap(state)) visitStates(state.ItemProcessor ?? state.Iterator, visit, intoDistributedMaps);
    if (Array.isArray(state.Branches)) for (const branch of state.Branches) visitStates(branch, visit, intoDistributedMaps);
  }
}
