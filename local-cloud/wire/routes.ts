import FindMyWay from 'find-my-way';
import type { ResolvedOperation, ServiceRequest, ServiceResponse } from './service.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request matched to a route: the request plus its percent-decoded path labels. */
export interface RestCall {
  request: ServiceRequest;
  params: Record<string, string>;
}

export interface RestOperation {
  name: string;
  run(call: RestCall): ServiceResponse | Promise<ServiceResponse>;
}

export interface RestRoute {
  method: HttpMethod;
  /** find-my-way syntax: `/things/:thingName/principals`. */
  path: string;
  operation: RestOperation;
}

/** Longer than any label the models allow, so over-long labels reach validation instead of a 404. */
const MAX_LABEL_LENGTH = 4096;

/**
 * Builds a restJson1 service's `resolve`: matches method and percent-encoded path (labels may hold
 * an encoded `/`) to an operation, or throws the service's own unknown-operation error.
 */
export function createOperationResolver(
  routes: readonly RestRoute[],
  unknownOperation: (request: ServiceRequest) => Error,
): (request: ServiceRequest) => ResolvedOperation {
  const router = FindMyWay({ maxParamLength: MAX_LABEL_LENGTH, ignoreTrailingSlash: true });
  for (const route of routes) router.on(route.method, route.path, () => undefined, route.operation);
  return (request) => {
    const found = router.find(request.method as HttpMethod, request.rawPath ?? request.path);
    if (!found) throw unknownOperation(request);
    const operation = found.store as RestOperation;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(found.params)) params[name] = value ?? '';
    return { name: operation.name, run: async () => operation.run({ request, params }) };
  };
}
