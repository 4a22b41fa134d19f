import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID } from '../config.ts';
import { isPlainObject } from '../wire/validation.ts';
import { createLambdaContext } from './lambda-context.ts';
import type { ServerlessProject } from './serverless-project.ts';

/** One function of `serverless.yml`, as the local Lambda runtime runs it. */
export interface LambdaFunction {
  /** The key under `functions:`, e.g. `registerThing`. */
  name: string;
  /** The name Serverless deploys it under: `functions.<key>.name` or `<service>-<stage>-<key>`. */
  deployedName: string;
  arn: string;
  handlerFile: string;
  exportName: string;
  /** Provider environment merged with the function's; only values that are plain strings on AWS too. */
  environment: Record<string, string>;
  timeoutSeconds: number;
  memorySizeMB: number;
}

export interface LambdaRegistry {
  readonly region: string;
  readonly functions: ReadonlyMap<string, LambdaFunction>;
  /** Finds a function by its `serverless.yml` key or its deployed name. */
  find(name: string): LambdaFunction | undefined;
  /** Runs the handler like the Lambda service would; resolves to its result or rejects with its error unchanged. */
  invoke(name: string, event: unknown): Promise<unknown>;
}

export interface LambdaRegistryOptions {
  accountId?: string;
  /**
   * Gives a local value for an environment entry that is not a string after variable resolution (on AWS a
   * CloudFormation `Ref`/`Fn::GetAtt`, e.g. a state machine ARN). Entries it returns `undefined` for are left out.
   */
  resolveCloudFormationValue?: (value: unknown) => string | undefined;
}

/** Serverless Framework defaults when neither provider nor function sets them. */
const DEFAULT_TIMEOUT_SECONDS = 6;
const DEFAULT_MEMORY_SIZE_MB = 1024;
const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/**
 * The error a timed-out invocation rejects with. Step Functions reports a Lambda timeout as `Lambda.Unknown`
 * (the Lambda runtime returns no error type), with this cause text.
 */
export class LambdaTimeoutError extends Error {
  override name = 'Lambda.Unknown';

  constructor(requestId: string, timeoutSeconds: number) {
    const payload = { errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${timeoutSeconds.toFixed(2)} seconds` };
    super(`The cause could not be determined because Lambda did not return an error type. Returned payload: ${JSON.stringify(payload)}`);
  }
}

type Handler = (event: unknown, context: Context) => unknown;

export function createLambdaRegistry(project: ServerlessProject, options: LambdaRegistryOptions = {}): LambdaRegistry {
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const provider = isPlainObject(project.config.provider) ? project.config.provider : {};
  const functionsConfig = isPlainObject(project.config.functions) ? project.config.functions : {};
  const functions = new Map<string, LambdaFunction>();
  for (const [name, definition] of Object.entries(functionsConfig)) {
    if (!isPlainObject(definition)) continue;
    functions.set(name, describeFunction(name, definition, { project, provider, accountId, options }));
  }

  const modules = new Map<string, Promise<Record<string, unknown>>>();
  const find = (name: string) => functions.get(name) ?? [...functions.values()].find((fn) => fn.deployedName === name);

  return {
    region: project.region,
    functions,
    find,
    async invoke(name, event) {
      const fn = find(name);
      if (!fn) throw new Error(`Function not found: ${name}`);
      applyEnvironment(fn, project.region);
      let module = modules.get(fn.handlerFile);
      if (!module) {
        module = import(pathToFileURL(fn.handlerFile).href) as Promise<Record<string, unknown>>;
        modules.set(fn.handlerFile, module);
      }
      const handler = (await module)[fn.exportName];
      if (typeof handler !== 'function') throw new Error(`${fn.handlerFile} does not export a function named "${fn.exportName}"`);
      // Handlers share this process, so each gets its own function's variables right before it starts.
      applyEnvironment(fn, project.region);
      const context = createLambdaContext({
        functionName: fn.deployedName,
        functionArn: fn.arn,
        memoryLimitInMB: fn.memorySizeMB,
        timeoutSeconds: fn.timeoutSeconds,
        region: project.region,
      });
      return withTimeout(Promise.resolve((handler as Handler)(event, context)), fn.timeoutSeconds, context.awsRequestId);
    },
  };
}

interface DescribeContext {
  project: ServerlessProject;
  provider: Record<string, unknown>;
  accountId: string;
  options: LambdaRegistryOptions;
}

function describeFunction(
  name: string,
  definition: Record<string, unknown>,
  { project, provider, accountId, options }: DescribeContext,
): LambdaFunction {
  if (typeof definition.handler !== 'string') throw new Error(`functions.${name}.handler must be a string like "functions/x.handler"`);
  const dot = definition.handler.lastIndexOf('.');
  const modulePath = definition.handler.slice(0, dot);
  const deployedName = typeof definition.name === 'string' ? definition.name : `${project.service}-${project.stage}-${name}`;
  return {
    name,
    deployedName,
    arn: `arn:aws:lambda:${project.region}:${accountId}:function:${deployedName}`,
    handlerFile: findHandlerFile(resolve(project.baseDir, modulePath), name),
    exportName: definition.handler.slice(dot + 1),
    environment: {
      ...stringEnvironment(provider.environment, options),
      ...stringEnvironment(definition.environment, options),
    },
    timeoutSeconds: numberOr(definition.timeout, numberOr(provider.timeout, DEFAULT_TIMEOUT_SECONDS)),
    memorySizeMB: numberOr(definition.memorySize, numberOr(provider.memorySize, DEFAULT_MEMORY_SIZE_MB)),
  };
}

function findHandlerFile(basePath: string, functionName: string): string {
  const file = HANDLER_EXTENSIONS.map((extension) => basePath + extension).find((candidate) => existsSync(candidate));
  if (!file) throw new Error(`Handler module of function ${functionName} not found: ${basePath}{${HANDLER_EXTENSIONS.join(',')}}`);
  return file;
}

function stringEnvironment(environment: unknown, options: LambdaRegistryOptions): Record<string, string> {
  if (!isPlainObject(environment)) return {};
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(environment)) {
    // CloudFormation turns numbers and booleans into strings; objects are Ref/GetAtt that only exist on AWS.
    const local =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : options.resolveCloudFormationValue?.(value);
    if (local !== undefined) entries.push([key, local]);
  }
  return Object.fromEntries(entries);
}

function applyEnvironment(fn: LambdaFunction, region: string): void {
  Object.assign(process.env, fn.environment, {
    AWS_LAMBDA_FUNCTION_NAME: fn.deployedName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySizeMB),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  });
  // Lambda sets the region itself (reserved variables): a function's clients call the region its
  // environment's ARNs name, whatever the developer's shell says. Credentials are the developer's if set.
  process.env.AWS_REGION = region;
  process.env.AWS_DEFAULT_REGION = region;
  if (!process.env.AWS_ACCESS_KEY_ID) {
    process.env.AWS_ACCESS_KEY_ID = 'local';
    process.env.AWS_SECRET_ACCESS_KEY = 'local';
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutSeconds: number, requestId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LambdaTimeoutError(requestId, timeoutSeconds)), timeoutSeconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
