import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlainObject } from '../wire/validation.ts';
import { parseFrameworkYaml } from './cloudformation-yaml-tags.ts';
import { includedFile, resolveVariables } from './serverless-variables.ts';

/** `serverless.yml` with its variables resolved for one stage, as the Framework would see it at deploy time. */
export interface ServerlessProject {
  /** Absolute path of the `serverless.yml` that was loaded. */
  path: string;
  /** Directory of `serverless.yml`: handler paths and `${file(...)}` are relative to it. */
  baseDir: string;
  stage: string;
  service: string;
  region: string;
  /** The resolved document. `resources:` is kept verbatim: it is CloudFormation, not Serverless variables. */
  config: Record<string, unknown>;
  /** Resolves Serverless variables in a part of `resources:` that uses them (a table's name, say). */
  resolveVariables(value: unknown): unknown;
}

export interface LoadServerlessProjectOptions {
  /** Defaults to the repository's `serverless.yml`. */
  path?: string;
  /** Defaults to `local`. */
  stage?: string;
  /** Extra CLI-style options for `${opt:...}`. */
  options?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_SERVERLESS_PATH = fileURLToPath(new URL('../../serverless.yml', import.meta.url));
const DEFAULT_STAGE = 'local';
const DEFAULT_REGION = 'us-east-1';

export async function loadServerlessProject(options: LoadServerlessProjectOptions = {}): Promise<ServerlessProject> {
  const path = resolve(options.path ?? DEFAULT_SERVERLESS_PATH);
  const stage = options.stage ?? DEFAULT_STAGE;
  const document = parseFrameworkYaml(await readFile(path, 'utf8'));
  if (!isPlainObject(document)) throw new Error(`${path} does not contain a YAML mapping`);

  const { resources, ...resolvable } = document;
  const sources = {
    document,
    stage,
    options: { ...options.options, stage },
    params: stageParams(document, stage),
    env: options.env ?? process.env,
    baseDir: dirname(path),
  };
  const resolved = resolveVariables(resolvable, sources) as Record<string, unknown>;
  const config = resources === undefined ? resolved : { ...resolved, resources: mergedResources(resources, sources.baseDir) };

  const provider = isPlainObject(config.provider) ? config.provider : {};
  const service = isPlainObject(config.service) ? String(config.service.name) : String(config.service);
  const region = typeof provider.region === 'string' ? provider.region : DEFAULT_REGION;
  return { path, baseDir: dirname(path), stage, service, region, config, resolveVariables: (value) => resolveVariables(value, sources) };
}

/**
 * `resources:` as the Framework reads it: a list of parts, each a mapping or a `${file()}` of one, merged in order,
 * mapping by mapping, into one. Kept verbatim like a single mapping: CloudFormation's `${Resource.Attr}` in a
 * Fn::Sub is not a Serverless variable.
 */
function mergedResources(resources: unknown, baseDir: string): unknown {
  if (!Array.isArray(resources)) return resources;
  return resources.reduce<Record<string, unknown>>((merged, part) => {
    const mapping = typeof part === 'string' ? includedFile(part, baseDir) : part;
    if (!isPlainObject(mapping)) throw new Error(`A part of resources: is not a mapping: ${JSON.stringify(part)}`);
    return deepMerge(merged, mapping);
  }, {});
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...target };
  for (const [key, value] of Object.entries(source)) {
    const existing = merged[key];
    merged[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return merged;
}

function stageParams(document: Record<string, unknown>, stage: string): Record<string, unknown> {
  const params = isPlainObject(document.params) ? document.params : {};
  const defaults = isPlainObject(params.default) ? params.default : {};
  const forStage = isPlainObject(params[stage]) ? params[stage] : {};
  return { ...defaults, ...forStage };
}
