/**
 * bundles: each function of serverless.yml bundled by esbuild with serverless.yml's own custom.esbuild
 * (read from the file, mapped the way serverless-esbuild maps it), then imported cold in fresh Node
 * processes with the function's environment. The metafile says which packages fill a bundle.
 */
import { execFile } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { createLambdaRegistry, loadServerlessProject } from '../local-cloud/index.ts';
import { median, round } from './stats.ts';

export interface BundlesOptions {
  importRuns: number;
  outDir: string;
}

/** serverless-esbuild's own settings, which it removes before calling esbuild (dist/bundle.js). */
const PLUGIN_ONLY_OPTIONS = new Set([
  'concurrency', 'zipConcurrency', 'exclude', 'nativeZip', 'packager', 'packagePath', 'watch', 'keepOutputDirectory',
  'packagerOptions', 'installExtraArgs', 'outputFileExtension', 'outputBuildFolder', 'outputWorkFolder', 'nodeExternals',
  'skipBuild', 'skipRebuild', 'skipBuildExcludeFns', 'stripEntryResolveExtensions', 'disposeContext', 'plugins',
]);

/** `plugins` names a module of the service whose default export is the plugin list (serverless-esbuild's form). */
async function pluginsOf(custom: Record<string, unknown>, serviceDir: string): Promise<Plugin[]> {
  if (typeof custom.plugins !== 'string') return [];
  const module = (await import(pathToFileURL(join(serviceDir, custom.plugins)).href)) as { default: Plugin[] };
  return module.default;
}

export async function esbuildOptionsOf(custom: Record<string, unknown>, serviceDir: string): Promise<BuildOptions> {
  const esbuildOptions = Object.fromEntries(Object.entries(custom).filter(([key]) => !PLUGIN_ONLY_OPTIONS.has(key))) as BuildOptions;
  const exclude = Array.isArray(custom.exclude) ? (custom.exclude as string[]) : ['aws-sdk'];
  const extension = typeof custom.outputFileExtension === 'string' ? custom.outputFileExtension : '.js';
  return {
    ...esbuildOptions,
    plugins: await pluginsOf(custom, serviceDir),
    external: [...(esbuildOptions.external ?? []), ...(exclude.includes('*') ? [] : exclude)],
    ...(extension !== '.js' && { outExtension: { '.js': extension } }),
  };
}

/** Output bytes per npm package (or `(project)` for this repository's code), largest first. */
export function bytesByPackage(metafile: Metafile, top = 8): { name: string; bytes: number }[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(project)';
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((left, right) => right.bytes - left.bytes).slice(0, top);
}

const run = promisify(execFile);

const DEPLOYED_STAGE = 'prod';

async function importMilliseconds(specifier: string, environment: Record<string, string>): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...environment } });
  return Number(stdout);
}

export async function bundles(options: BundlesOptions) {
  // The build options of a deployed stage; handlers and environment from the local stage, whose values are plain strings.
  const deployed = await loadServerlessProject({ stage: DEPLOYED_STAGE, env: {} });
  const custom = (deployed.config.custom as { esbuild: Record<string, unknown> }).esbuild;
  const project = await loadServerlessProject({ env: {} });
  const esbuildOptions = await esbuildOptionsOf(custom, project.baseDir);
  const lambdas = createLambdaRegistry(project);
  await rm(options.outDir, { recursive: true, force: true });

  const built = [];
  for (const fn of lambdas.functions.values()) {
    const outdir = join(options.outDir, fn.name);
    const result = await build({ ...esbuildOptions, entryPoints: [fn.handlerFile], outdir, metafile: true, logLevel: 'error' });
    const file = join(outdir, `${basename(fn.handlerFile, '.ts')}${String(custom.outputFileExtension ?? '.js')}`);
    // Lambda's environment: serverless.yml's variables (NODE_OPTIONS empty, as on every stage but dev) and a region.
    const environment = { ...fn.environment, AWS_REGION: project.region, AWS_LAMBDA_FUNCTION_NAME: fn.deployedName };
    built.push({ fn, file, environment, metafile: result.metafile, samples: [] as number[] });
  }
  // Rounds over all functions, after every build: a burst of load on the machine spreads over all of them
  // instead of landing on whichever function was being measured. Each round also imports Node's HTTPS
  // stack, which every bundle with an SDK client loads: how fast the machine was meanwhile.
  const httpsSamples = [];
  for (let round = 0; round < options.importRuns; round += 1) {
    for (const bundle of built) bundle.samples.push(await importMilliseconds(pathToFileURL(bundle.file).href, bundle.environment));
    httpsSamples.push(await importMilliseconds('node:https', {}));
  }
  const functions = [];
  for (const { fn, file, metafile, samples } of built) {
    functions.push({
      name: fn.name,
      handler: relative(project.baseDir, fn.handlerFile),
      bytes: (await stat(file)).size,
      sourceMapBytes: (await stat(`${file}.map`)).size,
      importMs: round(median(samples), 1),
      // Interference only ever adds time: the fastest round is the closest to the bundle's own cost.
      fastestImportMs: round(Math.min(...samples), 1),
      largestPackages: bytesByPackage(metafile, 6),
    });
  }
  return {
    esbuild: custom,
    importRuns: options.importRuns,
    nodeHttpsImportMs: round(median(httpsSamples), 1),
    functions,
    maxBytes: Math.max(...functions.map(({ bytes }) => bytes)),
    maxImportMs: Math.max(...functions.map(({ importMs }) => importMs)),
  };
}
