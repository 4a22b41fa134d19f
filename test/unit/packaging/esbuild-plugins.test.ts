import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineComputedKeys, treeShakableSdkSchemas, unbundledEventStreams } from '../../../packaging/esbuild-plugins.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLIENTS = ['client-iot', 'client-greengrassv2', 'client-sfn'];

async function bundle(contents: string, plugins: Plugin[]): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: ROOT },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'error',
    plugins,
  });
  return result.outputFiles[0]!.text;
}

/** Every exported schema, with each lazy reference (`() => Other$`) replaced by the name of the export it returns. */
function describeSchemas(exports: Record<string, unknown>): string {
  const names = new Map(Object.entries(exports).map(([name, value]) => [value, name]));
  return JSON.stringify(exports, (_key, value: unknown) =>
    typeof value === 'function' ? `→${names.get((value as () => unknown)()) ?? 'unexported'}` : value,
  );
}

describe('inlineComputedKeys', () => {
  it('writes a computed key naming a string constant of the module as that literal', () => {
    const source = 'const _h = "http";\nconst _e = "error";\nexport var A$ = [9, { [_h]: ["GET", "/a", 200], [_e]: _e }];';
    expect(inlineComputedKeys(source)).toBe(
      'const _h = "http";\nconst _e = "error";\nexport var A$ = [9, { "http": ["GET", "/a", 200], "error": _e }];',
    );
  });

  it('leaves a computed key alone when its name is not a string constant', () => {
    const source = 'const _n = 1;\nexport var A$ = { [_n]: 1, [_unknown]: 2, [other]: 3 };';
    expect(inlineComputedKeys(source)).toBe(source);
  });
});

describe('the tree-shakable-sdk-schemas plugin', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sdk-schemas-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function importBundle(name: string, code: string): Promise<Record<string, unknown>> {
    const file = join(directory, `${name}.mjs`);
    await writeFile(file, code);
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }

  it.each(CLIENTS)('leaves every schema of @aws-sdk/%s as it was', async (client) => {
    const entry = `export * from '@aws-sdk/${client}/dist-es/schemas/schemas_0.js';`;
    const original = await importBundle(`${client}-original`, await bundle(entry, []));
    const rewritten = await importBundle(`${client}-rewritten`, await bundle(entry, [treeShakableSdkSchemas]));
    expect(Object.keys(rewritten).length).toBeGreaterThan(50);
    expect(describeSchemas(rewritten)).toBe(describeSchemas(original));
  });

  it('lets esbuild drop the schemas of operations a function never calls', async () => {
    const entry =
      "import { RegisterThingCommand } from '@aws-sdk/client-iot'; export const command = new RegisterThingCommand({ templateBody: '{}' });";
    const unusedOperationPath = '/audit/scheduledaudits/';
    const withPlugin = await bundle(entry, [treeShakableSdkSchemas]);
    const withoutPlugin = await bundle(entry, []);
    expect(withPlugin).toContain('"RegisterThing"');
    expect(withPlugin).not.toContain(unusedOperationPath);
    // When this fails, the SDK ships literal keys (smithy-lang/smithy-typescript#1889) and the plugin can go.
    expect(withoutPlugin).toContain(unusedOperationPath);
  });
});

describe('the unbundled-event-streams plugin', () => {
  const EVENT_STREAM_MARSHALLER = 'EventStreamMarshaller';

  it("leaves the SDK's dynamic import of the event-stream codec to run time, and node:zlib with it", async () => {
    const entry = "export const load = () => import('@smithy/core/event-streams');";
    const withPlugin = await bundle(entry, [unbundledEventStreams]);
    const withoutPlugin = await bundle(entry, []);
    expect(withPlugin).toContain('import("@smithy/core/event-streams")');
    expect(withPlugin).not.toContain(EVENT_STREAM_MARSHALLER);
    expect(withPlugin).not.toContain('node:zlib');
    expect(withoutPlugin).toContain(EVENT_STREAM_MARSHALLER);
  });

  it('still bundles a static import of it (the S3 client has one)', async () => {
    const entry = "export { EventStreamMarshaller } from '@smithy/core/event-streams';";
    expect(await bundle(entry, [unbundledEventStreams])).toContain(EVENT_STREAM_MARSHALLER);
  });
});
