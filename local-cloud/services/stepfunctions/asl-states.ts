import { isPlainObject } from '../../wire/validation.ts';

/** Visits every state of a definition, including those nested in Map `ItemProcessor`/`Iterator` and Parallel branches. */
export function forEachState(scope: unknown, visit: (name: string, state: Record<string, unknown>) => void): void {
  if (!isPlainObject(scope) || !isPlainObject(scope.States)) return;
  for (const [name, state] of Object.entries(scope.States)) {
    if (!isPlainObject(state)) continue;
    visit(name, state);
    forEachState(state.ItemProcessor ?? state.Iterator, visit);
    if (Array.isArray(state.Branches)) state.Branches.forEach((branch) => forEachState(branch, visit));
  }
}
