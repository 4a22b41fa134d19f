/**
 * bundles: each function of serverless.yml bundled by esbuild with serverless.yml's own custom.esbuild
 * (read from the file, mapped the way serverless-esbuild maps it), then imported cold in fresh Node
 * processes with the function's environment. Each function that uses an SDK client is timed against a peer:
 * the same handler built with serverless-esbuild's defaults, what a user of the plugin gets without this
 * project's tuning, imported in the same rounds. The metafile says which packages fill a bundle.
 */
import { execFile } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { createLambdaRegistry, loadServerlessProject } from '../local-cloud/index.ts';
import { median, round } from './stats.ts';

export interface BundlesOptions {
  importRuns: number;
  outDir: string;
}

/** serverless-esbuild's own settings, which it removes before calling esbuild (dist/bundle.js). */
const PLUGIN_ONLY_OPTIONS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'plugins',
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
  return [...totals]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((left, right) => right.bytes - left.bytes)
    .slice(0, top);
}

const run = promisify(execFile);

/**
 * serverless-esbuild's defaults (dist/index.js: DEFAULT_BUILD_OPTIONS, the target from provider.runtime
 * nodejs24.x): a CommonJS bundle, nothing minified, the SDK's default entry points. `.cjs` only so that Node
 * reads it as CommonJS here, under this repository's `"type": "module"`, as Lambda reads a zip's `.js`, which it
 * then loads with `require()` (loadCost).
 */
const PLUGIN_DEFAULTS = { bundle: true, target: 'node24', platform: 'node', outputFileExtension: '.cjs' };

/** A function whose bundle holds an SDK client, which the peer bundles without the project's tuning. */
function usesSdkClient(metafile: Metafile): boolean {
  return Object.keys(metafile.inputs).some((input) => /node_modules\/@aws-sdk\/client-/.test(input));
}

async function buildBundle(options: BuildOptions, entryPoint: string, outdir: string, extension: string) {
  const result = await build({ ...options, entryPoints: [entryPoint], outdir, metafile: true, logLevel: 'error' });
  return { file: join(outdir, `${basename(entryPoint, '.ts')}${extension}`), metafile: result.metafile };
}

const DEPLOYED_STAGE = 'prod';

/**
 * How Lambda's runtime loads a handler file (aws-lambda-nodejs-runtime-interface-client, UserFunction.js): an ES
 * module by `import()`, a CommonJS one by `require()`. Importing CommonJS instead would also charge the peer Node's
 * scan of its source for named exports, which Lambda never runs.
 */
type Loader = 'import' | 'require';

interface LoadCost {
  /** Wall-clock milliseconds: what a cold start waits, and whatever else the machine runs meanwhile. */
  wallMs: number;
  /**
   * CPU milliseconds of the whole process (all its threads) over the same span: the work itself, which a busy
   * machine delays but does not add to. On Lambda a function has a share of a vCPU under 1,769 MB, so work is time.
   */
  cpuMs: number;
}

/** What a fresh Node process spends loading the file (or a builtin, by `import`) as Lambda would. */
async function loadCost(specifier: string, loader: Loader, environment: Record<string, string>): Promise<LoadCost> {
  const load =
    loader === 'import' ? `await import(${JSON.stringify(specifier)})` : `createRequire(import.meta.url)(${JSON.stringify(specifier)})`;
  const script = `import { createRequire } from 'node:module'; const c = process.cpuUsage(); const t = performance.now(); ${load}; const wallMs = performance.now() - t; const { user, system } = process.cpuUsage(c); process.stdout.write(JSON.stringify({ wallMs, cpuMs: (user + system) / 1000 }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...environment },
  });
  return JSON.parse(stdout) as LoadCost;
}

export async function bundles(options: BundlesOptions) {
  // The build options of a deployed stage; handlers and environment from the local stage, whose values are plain strings.
  const deployed = await loadServerlessProject({ stage: DEPLOYED_STAGE, env: {} });
  const custom = (deployed.config.custom as { esbuild: Record<string, unknown> }).esbuild;
  const project = await loadServerlessProject({ env: {} });
  const esbuildOptions = await esbuildOptionsOf(custom, project.baseDir);
  const peerOptions = await esbuildOptionsOf(PLUGIN_DEFAULTS, project.baseDir);
  const lambdas = createLambdaRegistry(project);
  await rm(options.outDir, { recursive: true, force: true });

  const built = [];
  for (const fn of lambdas.functions.values()) {
    const bundle = await buildBundle(
      esbuildOptions,
      fn.handlerFile,
      join(options.outDir, fn.name),
      String(custom.outputFileExtension ?? '.js'),
    );
    const peer = usesSdkClient(bundle.metafile)
      ? {
          ...(await buildBundle(peerOptions, fn.handlerFile, join(options.outDir, 'peer', fn.name), PLUGIN_DEFAULTS.outputFileExtension)),
          samples: [] as number[],
          cpuSamples: [] as number[],
        }
      : undefined;
    // Lambda's environment: serverless.yml's variables (NODE_OPTIONS empty, as on every stage but dev) and a region.
    const environment = { ...fn.environment, AWS_REGION: project.region, AWS_LAMBDA_FUNCTION_NAME: fn.deployedName };
    built.push({ fn, ...bundle, peer, environment, samples: [] as number[], cpuSamples: [] as number[] });
  }
  // Rounds over all functions, after every build: a burst of load on the machine spreads over all of them
  // instead of landing on whichever function was being measured, and a function and its peer are loaded
  // back to back, so that their ratio compares like with like; which of the two goes first alternates from
  // round to round, so that neither always meets the machine as the other left it. Each round also imports
  // Node's HTTPS stack, which every bundle with an SDK client loads: how fast the machine was meanwhile.
  const httpsSamples = [];
  const measure = async (into: { samples: number[]; cpuSamples: number[] }, ...load: Parameters<typeof loadCost>) => {
    const { wallMs, cpuMs } = await loadCost(...load);
    into.samples.push(wallMs);
    into.cpuSamples.push(cpuMs);
  };
  for (let round = 0; round < options.importRuns; round += 1) {
    for (const bundle of built) {
      const ours = () => measure(bundle, pathToFileURL(bundle.file).href, 'import', bundle.environment);
      const { peer } = bundle;
      if (!peer) {
        await ours();
        continue;
      }
      const theirs = () => measure(peer, peer.file, 'require', bundle.environment);
      for (const load of round % 2 === 0 ? [ours, theirs] : [theirs, ours]) await load();
    }
    httpsSamples.push((await loadCost('node:https', 'import', {})).wallMs);
  }
  const functions = [];
  for (const { fn, file, metafile, samples, cpuSamples, peer } of built) {
    const importMs = round(median(samples), 1);
    functions.push({
      name: fn.name,
      handler: relative(project.baseDir, fn.handlerFile),
      bytes: (await stat(file)).size,
      sourceMapBytes: (await stat(`${file}.map`)).size,
      importMs,
      // Interference only ever adds time: the fastest round is the closest to the bundle's own cost.
      fastestImportMs: round(Math.min(...samples), 1),
      importCpuMs: round(median(cpuSamples), 1),
      largestPackages: bytesByPackage(metafile, 6),
      ...(peer && {
        peer: {
          bytes: (await stat(peer.file)).size,
          importMs: round(median(peer.samples), 1),
          fastestImportMs: round(Math.min(...peer.samples), 1),
          importCpuMs: round(median(peer.cpuSamples), 1),
          // Both medians of the same rounds.
          importRatio: round(median(samples) / median(peer.samples), 3),
          // The same for CPU time, which the machine's other work hardly moves: a check on importRatio under load.
          cpuRatio: round(median(cpuSamples) / median(peer.cpuSamples), 3),
        },
      }),
    });
  }
  const ratios = functions.flatMap(({ peer }) => (peer ? [peer.importRatio] : []));
  return {
    esbuild: custom,
    peerEsbuild: PLUGIN_DEFAULTS,
    importRuns: options.importRuns,
    nodeHttpsImportMs: round(median(httpsSamples), 1),
    functions,
    maxBytes: Math.max(...functions.map(({ bytes }) => bytes)),
    maxImportMs: Math.max(...functions.map(({ importMs }) => importMs)),
    maxImportRatio: Math.max(...ratios),
    maxCpuRatio: Math.max(...functions.flatMap(({ peer }) => (peer ? [peer.cpuRatio] : []))),
  };
}
