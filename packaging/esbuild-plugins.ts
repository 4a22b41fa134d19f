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

/**
 * The SDK loads its event-stream codec by a dynamic import, for an operation that streams events, which no function
 * here calls. Bundled, it is compiled at every cold start and brings node:zlib along (20 KiB, ~3 ms); left as an
 * import of the package, it costs nothing until reached. A function that calls such an operation must bundle it
 * again. The S3 client also imports it statically: that import stays bundled.
 */
const EVENT_STREAMS = /^@smithy\/core\/event-streams$/;

export const unbundledEventStreams: Plugin = {
  name: 'unbundled-event-streams',
  setup(build) {
    build.onResolve({ filter: EVENT_STREAMS }, ({ path, kind }) => (kind === 'dynamic-import' ? { path, external: true } : undefined));
  },
};

export default [treeShakableSdkSchemas, unbundledEventStreams];
