import { JSONPath } from 'jsonpath-plus';
import { StatesError } from './states-error.ts';

/**
 * A JSONPath payload template (Parameters, ItemSelector, BatchInput) resolved against the state's input and the
 * context object: a key ending in `.$` takes the value its path selects (`$…` from the input, `$$…` from the
 * context). Intrinsic functions are not emulated here: a template that calls one is refused, never misread.
 */
export function resolveTemplate(template: unknown, input: unknown, context: unknown): unknown {
  if (Array.isArray(template)) return template.map((value) => resolveTemplate(value, input, context));
  if (typeof template !== 'object' || template === null) return template;
  return Object.fromEntries(
    Object.entries(template).map(([key, value]) => {
      if (!key.endsWith('.$')) return [key, resolveTemplate(value, input, context)];
      if (typeof value !== 'string') throw new StatesError('States.Runtime', `The value of ${key} must be a path`);
      return [key.slice(0, -2), selectPath(value, input, context)];
    }),
  );
}

/** One path: `$$.Map.Item.Value` from the context, `$.devices` from the input; a path that selects nothing fails the state. */
export function selectPath(path: string, input: unknown, context: unknown): unknown {
  if (path.startsWith('States.')) {
    throw new StatesError(
      'States.Runtime',
      `The local cloud does not emulate intrinsic functions in a Distributed Map's templates: ${path}`,
    );
  }
  const [root, json] = path.startsWith('$$') ? [path.slice(1), context] : [path, input];
  const found = JSONPath({ path: root, json: json as object, wrap: true }) as unknown[];
  if (found.length === 0) throw new StatesError('States.Runtime', `The JSONPath ${path} could not be found in the input`);
  return /[*]|\.\.|\[\?|,/.test(root) ? found : found[0];
}
