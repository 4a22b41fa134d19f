import FindMyWay from 'find-my-way';
import type { ServerlessProject } from '../lambda/serverless-project.ts';
import { isPlainObject } from '../wire/validation.ts';

/** One `http` event of `serverless.yml`: an API Gateway REST API method with a Lambda-proxy integration. */
export interface HttpRoute {
  functionName: string;
  /** Upper case; `ANY` matches every method. */
  method: string;
  /** API Gateway resource path, e.g. `/provisioning-requests/{requestId}`. */
  resource: string;
}

export interface RouteMatch {
  route: HttpRoute;
  pathParameters: Record<string, string>;
}

export function httpRoutesOf(project: ServerlessProject): HttpRoute[] {
  const functions = isPlainObject(project.config.functions) ? project.config.functions : {};
  const routes: HttpRoute[] = [];
  for (const [functionName, definition] of Object.entries(functions)) {
    const events = isPlainObject(definition) && Array.isArray(definition.events) ? definition.events : [];
    for (const event of events) {
      if (!isPlainObject(event) || event.http === undefined) continue;
      const { method, path } = parseHttpEvent(event.http, functionName);
      routes.push({ functionName, method: method.toUpperCase(), resource: `/${path.replace(/^\/+|\/+$/g, '')}` });
    }
  }
  return routes;
}

/** `http: 'POST things/{id}'` or `http: {method, path}`. */
function parseHttpEvent(http: unknown, functionName: string): { method: string; path: string } {
  if (typeof http === 'string') {
    const [method, path] = http.trim().split(/\s+/);
    if (method && path) return { method, path };
  } else if (isPlainObject(http) && typeof http.method === 'string' && typeof http.path === 'string') {
    return { method: http.method, path: http.path };
  }
  throw new Error(`functions.${functionName}: an http event needs a method and a path, got ${JSON.stringify(http)}`);
}

/** What `ANY` stands for in API Gateway. */
const API_GATEWAY_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;
const GREEDY_PARAMETER = /\{([^}]+)\+\}$/;

/**
 * API Gateway's matching, which find-my-way shares: a literal segment wins over `{name}` (one segment), which
 * wins over `{name+}` (the rest of the path); a route's own method wins over its `ANY`.
 */
export function createRouteMatcher(routes: readonly HttpRoute[]): (method: string, path: string) => RouteMatch | undefined {
  // An over-long path parameter must reach the handler, which says what is wrong with it, as API Gateway lets it.
  const router = FindMyWay({ ignoreTrailingSlash: true, maxParamLength: 8192 });
  const byExactMethodFirst = [...routes].sort((left, right) => Number(left.method === 'ANY') - Number(right.method === 'ANY'));
  for (const route of byExactMethodFirst) {
    const greedy = GREEDY_PARAMETER.exec(route.resource)?.[1];
    const path = route.resource.replace(GREEDY_PARAMETER, '*').replace(/\{([^}]+)\}/g, ':$1');
    const methods = route.method === 'ANY' ? API_GATEWAY_METHODS : [route.method as (typeof API_GATEWAY_METHODS)[number]];
    for (const method of methods) {
      if (!router.hasRoute(method, path)) router.on(method, path, () => undefined, { route, greedy });
    }
  }
  return (method, path) => {
    const found = router.find(method.toUpperCase() as (typeof API_GATEWAY_METHODS)[number], path);
    if (!found) return undefined;
    const { route, greedy } = found.store as { route: HttpRoute; greedy?: string };
    const pathParameters: Record<string, string> = {};
    for (const [name, value] of Object.entries(found.params)) pathParameters[name === '*' && greedy ? greedy : name] = value ?? '';
    return { route, pathParameters };
  };
}
