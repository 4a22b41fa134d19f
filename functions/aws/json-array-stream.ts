import { JSONParser } from '@streamparser/json';
import { readObjectStream } from './fleet-streams.ts';

/**
 * The items of an object holding one JSON array (a Map Run's result file), parsed as its bytes arrive, one item
 * held at a time. @streamparser/json because a result file holds every batch's output, far more than a function's
 * memory; apart from fleet-streams.ts so that only the function that reads result files bundles it.
 */
export async function* readObjectArrayItems<T>(bucket: string, key: string): AsyncGenerator<T> {
  // Stryker disable next-line BooleanLiteral: equivalent: a kept stack holds the items parsed so far as well, and changes no item
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  let parsed: T[] = [];
  parser.onValue = ({ value }) => {
    parsed.push(value as T);
  };
  for await (const chunk of await readObjectStream(bucket, key)) {
    parser.write(chunk);
    const ready = parsed;
    parsed = [];
    yield* ready;
  }
  // The parser ends by itself after the array's closing bracket; end() then would throw.
  if (!parser.isEnded) parser.end();
  yield* parsed;
}
