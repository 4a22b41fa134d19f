import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse as HttpResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LOCAL_ACCOUNT_ID, listenError, localCloudUrl } from './config.ts';
import { createFaultInjector, type FaultSettings, FaultSettingsError, type FaultSettingsPatch, type OperationCounters } from './faults.ts';
import { createDynamoDbService, createTable, type TableDefinition } from './services/dynamodb/index.ts';
import { createEventBridgeService, type LambdaTargets, type RuleDefinition, seedEventBridge } from './services/eventbridge/index.ts';
import { createGreengrassService, registerCoreDevice } from './services/greengrass.ts';
import type { KeyAlgorithm } from './services/iot/certificate-authority.ts';
import { createIotService } from './services/iot/index.ts';
import { type BucketDefinition, createStackBucket } from './services/s3/buckets.ts';
import { createS3Service } from './services/s3/index.ts';
import { openStateStore, type StateSnapshot } from './store.ts';
import { type Clock, type LocalCloudContext, systemClock } from './wire/context.ts';
import { InjectedFault } from './wire/injected-fault.ts';
import { parseJsonObject, readBodyWithin } from './wire/request-body.ts';
import { encodeRestJsonError, jsonResponse, RestJsonError } from './wire/rest-json.ts';
import type { AdminRoute, EmulatedService, ServiceRequest, ServiceResponse } from './wire/service.ts';

const ADMIN_PREFIX = '/_local/';
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Longer than the SDK's idle sockets live, so a reused keep-alive socket is never closed under it. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const CREDENTIAL_SCOPE = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;
/** A presigned URL's scope, in its `X-Amz-Credential` query parameter. */
const PRESIGNED_SCOPE = /^[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request$/;

export interface LocalCloudOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The SQLite file that keeps the state across restarts; a temporary database when absent. */
  stateDatabase?: string;
  faults?: FaultSettingsPatch;
  /** Core devices registered at start (when absent) and after every reset. */
  coreDevices?: readonly unknown[];
  /** DynamoDB tables created at start (when absent) and after every reset: a deployed stack's tables. */
  tables?: readonly TableDefinition[];
  /** S3 buckets created at start (when absent) and after every reset: a deployed stack's buckets. */
  buckets?: readonly BucketDefinition[];
  /** EventBridge rules created at start (when absent) and after every reset: a deployed stack's rules. */
  rules?: readonly RuleDefinition[];
  /** The functions EventBridge's Lambda targets run; without them no Lambda target can be delivered to. */
  lambdaTargets?: LambdaTargets;
  /** 1 (the default) = AWS's waits between EventBridge and Lambda retries, 0 = none. */
  timeScale?: number;
  clock?: Clock;
  /** The key pairs IoT CreateKeysAndCertificate makes: `rsa-2048` (the default, as AWS) or the much faster `ec-p256`. */
  keyAlgorithm?: KeyAlgorithm;
  /** More services to mount next to IoT and Greengrass, built with the shared context. */
  services?: (context: LocalCloudContext) => readonly EmulatedService[];
}

export interface LocalCloudAdmin {
  health(): { status: 'ok'; services: string[] };
  state(): StateSnapshot;
  /** Stops running executions, clears all state (executions too), then registers the configured core devices and tables again. */
  reset(): Promise<void>;
  metrics(): Record<string, OperationCounters>;
  resetMetrics(): void;
  faults(): FaultSettings;
  configureFaults(patch: FaultSettingsPatch): FaultSettings;
}

export interface LocalCloud {
  url: string;
  port: number;
  admin: LocalCloudAdmin;
  close(): Promise<void>;
}

export async function createLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const store = openStateStore(options.stateDatabase);
  const context: LocalCloudContext = {
    store,
    faults: createFaultInjector(options.faults ?? {}, clock),
    clock,
    accountId: LOCAL_ACCOUNT_ID,
    // Services emit events only once serving, by which time EventBridge (built with this context) exists.
    events: { publish: (event) => eventBridge.publish(event) },
  };
  const eventBridge = createEventBridgeService(context, {
    ...(options.lambdaTargets && { lambdaTargets: options.lambdaTargets }),
    ...(options.timeScale !== undefined && { timeScale: options.timeScale }),
  });

  const services = new Map<string, EmulatedService>();
  const servicesBySigningName = new Map<string, EmulatedService>();
  const iot = createIotService(context, { ...(options.keyAlgorithm && { keyAlgorithm: options.keyAlgorithm }) });
  const builtIn = [iot, createGreengrassService(context), createDynamoDbService(context), eventBridge, createS3Service(context)];
  for (const service of [...builtIn, ...(options.services?.(context) ?? [])]) {
    services.set(service.signingName, service);
    for (const name of [service.signingName, ...(service.signingNameAliases ?? [])]) {
      if (servicesBySigningName.has(name)) throw new Error(`Two services are mounted with signing name ${name}`);
      servicesBySigningName.set(name, service);
    }
  }

  const seedResources = () => {
    for (const registration of options.coreDevices ?? []) {
      const name = (registration as { coreDeviceThingName?: unknown }).coreDeviceThingName;
      if (typeof name !== 'string' || !store.state.coreDevices.has(name)) registerCoreDevice(context, registration);
    }
    for (const table of options.tables ?? []) if (!store.state.tables.has(table.TableName)) createTable(context, table);
    for (const bucket of options.buckets ?? []) createStackBucket(context, bucket);
    seedEventBridge(context, options.rules ?? []);
  };
  seedResources();
  const resetServices = async () => {
    await Promise.all([...services.values()].map((service) => service.reset?.()));
  };
  const closeServices = async () => {
    await Promise.all([...services.values()].map((service) => (service.close ? service.close() : service.reset?.())));
  };

  const admin: LocalCloudAdmin = {
    health: () => ({ status: 'ok', services: [...services.keys()] }),
    state: () => store.snapshot(),
    async reset() {
      // Executions stop first, so that none of their tasks writes into the cleared state.
      await resetServices();
      store.reset();
      seedResources();
    },
    metrics: () => context.faults.metrics(),
    resetMetrics: () => context.faults.resetMetrics(),
    faults: () => context.faults.settings(),
    configureFaults: (patch) => context.faults.configure(patch),
  };
  const adminRoutes = new Map<string, AdminRoute['handle']>();
  const addAdminRoute = (route: AdminRoute) => adminRoutes.set(`${route.method} ${route.path}`, route.handle);
  for (const route of builtInAdminRoutes(admin)) addAdminRoute(route);
  for (const service of services.values()) for (const route of service.adminRoutes ?? []) addAdminRoute(route);

  const handle = async (req: IncomingMessage, res: HttpResponse) => {
    const requestId = randomUUID();
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const rawPath = queryStart < 0 ? url : url.slice(0, queryStart);
    const query = new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1));
    const scope = CREDENTIAL_SCOPE.exec(req.headers.authorization ?? '') ?? PRESIGNED_SCOPE.exec(query.get('X-Amz-Credential') ?? '');
    const [, region = 'us-east-1', signingService = ''] = scope ?? [];
    const service = servicesBySigningName.get(signingService);
    const body = await readBodyWithin(req, service?.maxBodyBytes ?? MAX_BODY_BYTES);
    if (body === undefined) {
      return send(
        res,
        requestId,
        encodeRestJsonError(new RestJsonError('RequestEntityTooLargeException', 413, 'Request body too large'), requestId),
      );
    }
    if (rawPath.startsWith(ADMIN_PREFIX)) {
      const response = await runAdminRoute(adminRoutes, req.method ?? 'GET', rawPath.slice(ADMIN_PREFIX.length), body, requestId);
      store.commit();
      return send(res, requestId, response);
    }
    if (!scope) {
      const error = new RestJsonError('MissingAuthenticationTokenException', 403, 'Missing Authentication Token');
      return send(res, requestId, encodeRestJsonError(error, requestId));
    }
    if (!service) {
      const message = `The local cloud does not emulate service ${signingService}; it serves ${[...services.keys()].join(', ')}`;
      return send(res, requestId, encodeRestJsonError(new RestJsonError('UnknownOperationException', 400, message), requestId));
    }
    const request: ServiceRequest = {
      method: req.method ?? 'GET',
      path: safeDecodePath(rawPath),
      rawPath,
      query,
      headers: req.headers,
      body,
      signingService,
      region,
      requestId,
    };
    const response = await dispatch(context, service, request);
    // What a caller is told has been done survives the process being killed right after.
    store.commit();
    send(res, requestId, response);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error('local cloud: request failed', error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal error in the local cloud' }));
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  const requestedPort = options.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, host, requestedPort, 'LOCAL_CLOUD_PORT')));
    server.listen(requestedPort, host, resolve);
  }).catch(async (error: unknown) => {
    await closeServices();
    store.close();
    throw error;
  });

  const { port } = server.address() as AddressInfo;
  return {
    url: localCloudUrl({ host, port }),
    port,
    admin,
    async close() {
      // Executions stop while the server still answers the functions they have under way.
      await closeServices();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      store.close();
    },
  };
}

/** Resolves, applies quotas and faults by operation name, runs, counts the outcome. */
async function dispatch(context: LocalCloudContext, service: EmulatedService, request: ServiceRequest): Promise<ServiceResponse> {
  const { faults } = context;
  let operation: string | undefined;
  try {
    const resolved = service.resolve(request);
    operation = resolved.name;
    faults.admit(operation);
    const response = await resolved.run();
    const succeeded = response.status < 400;
    // Only a success has committed anything a failure-after-commit could hide.
    if (succeeded) faults.afterCommit(operation);
    faults.record(operation, succeeded ? 'succeeded' : 'failed');
    return response;
  } catch (error) {
    const throttled = error instanceof InjectedFault && error.kind === 'throttled';
    if (operation !== undefined) faults.record(operation, throttled ? 'throttled' : 'failed');
    const response = service.encodeError(error, request.requestId);
    // A 500 not injected is the emulator's own failure; 501 NotImplemented and the like are answers.
    if (response.status === 500 && !(error instanceof InjectedFault)) {
      console.error(`local cloud: ${service.signingName} ${operation ?? request.path} failed`, error);
    }
    return response;
  }
}

function builtInAdminRoutes(admin: LocalCloudAdmin): AdminRoute[] {
  return [
    { method: 'GET', path: 'health', handle: () => admin.health() },
    { method: 'GET', path: 'state', handle: () => admin.state() },
    {
      method: 'POST',
      path: 'reset',
      handle: async () => {
        await admin.reset();
        return { reset: true };
      },
    },
    { method: 'GET', path: 'metrics', handle: () => admin.metrics() },
    {
      method: 'POST',
      path: 'metrics/reset',
      handle: () => {
        admin.resetMetrics();
        return { reset: true };
      },
    },
    { method: 'GET', path: 'faults', handle: () => admin.faults() },
    { method: 'POST', path: 'faults', handle: (body) => admin.configureFaults((body ?? {}) as FaultSettingsPatch) },
  ];
}

async function runAdminRoute(
  routes: ReadonlyMap<string, AdminRoute['handle']>,
  method: string,
  path: string,
  body: Buffer,
  requestId: string,
): Promise<ServiceResponse> {
  const handler = routes.get(`${method} ${path.replace(/\/$/, '')}`);
  if (!handler) {
    const known = [...routes.keys()].map((key) => key.replace(' ', ` ${ADMIN_PREFIX}`)).join(', ');
    return encodeRestJsonError(
      new RestJsonError('NotFound', 404, `No admin route ${method} ${ADMIN_PREFIX}${path}; known: ${known}`),
      requestId,
    );
  }
  const input = body.length === 0 ? undefined : parseJsonObject(body);
  if (body.length > 0 && input === undefined) {
    return encodeRestJsonError(new RestJsonError('BadRequest', 400, 'The body must be a JSON object'), requestId);
  }
  try {
    return jsonResponse(await handler(input));
  } catch (error) {
    if (error instanceof RestJsonError) return encodeRestJsonError(error, requestId);
    if (error instanceof FaultSettingsError) return encodeRestJsonError(new RestJsonError('BadRequest', 400, error.message), requestId);
    throw error;
  }
}

function send(res: HttpResponse, requestId: string, response: ServiceResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'x-amzn-requestid')) headers['x-amzn-RequestId'] = requestId;
  res.writeHead(response.status, headers);
  // A stream that fails midway has sent its headers: the connection is cut, so the caller sees a short body.
  if (response.body instanceof Readable) pipeline(response.body, res).catch(() => undefined);
  else res.end(response.body ?? '');
}

function safeDecodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return rawPath;
  }
}
