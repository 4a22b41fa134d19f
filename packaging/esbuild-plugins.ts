import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

/**
 * The SDK's generated schemas write trait keys as computed properties (`{ [_h]: [...] }`, where
 * `const _h = "http"`). esbuild must assume a computed key may run code, so it keeps every schema of
 * the service: 108 KB of IoT operations in a function that calls one. Writing the same keys as
 * literals lets esbuild drop what is unused. Upstream: aws/aws-sdk-js-v3#7607, fixed in
 * smithy-lang/smithy-typescript#1889; remove this plugin once the clients ship with literal keys.
 */
const SDK_SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;
const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
const COMPUTED_KEY = /\[(_\w+)\]:/g;

export function inlineComputedKeys(source: string): string {
  const literals = new Map<string, string>();
  for (const [, name, literal] of source.matchAll(STRING_CONSTANT)) literals.set(name!, literal!);
  return source.replace(COMPUTED_KEY, (key, name: string) => {
    const literal = literals.get(name);
    return literal === undefined ? key : `${literal}:`;
  });
}

export const treeShakableSdkSchemas: Plugin = {
  name: 'tree-shakable-sdk-schemas',
  setup(build) {
    build.onLoad({ filter: SDK_SCHEMA_MODULE }, async ({ path }) => ({
      contents: inlineComputedKeys(await readFile(path, 'utf8')),
      loader: 'js',
    }));
  },
};

export default [treeShakableSdkSchemas];
