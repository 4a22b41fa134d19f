import type { ServerlessProject } from '../local-cloud/lambda/serverless-project.ts';
import { isPlainObject } from '../local-cloud/wire/validation.ts';

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

/**
 * API Gateway's matching: `{name}` takes one segment, `{name+}` the rest of the path, and a literal segment wins
 * over a parameter at the same position.
 */
export function matchRoute(routes: readonly HttpRoute[], method: string, path: string): RouteMatch | undefined {
  const segments = splitPath(path);
  const candidates = routes
    .filter((route) => route.method === 'ANY' || route.method === method.toUpperCase())
    .flatMap((route) => {
      const pathParameters = matchSegments(splitPath(route.resource), segments);
      return pathParameters ? [{ route, pathParameters }] : [];
    });
  return candidates.sort((left, right) => specificity(right.route) - specificity(left.route) || literalFirst(left.route, right.route))[0];
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (const [index, part] of pattern.entries()) {
    const greedy = /^\{(.+)\+\}$/.exec(part);
    if (greedy) {
      if (index >= segments.length) return undefined;
      parameters[greedy[1]!] = segments.slice(index).join('/');
      return parameters;
    }
    const segment = segments[index];
    if (segment === undefined) return undefined;
    const parameter = /^\{(.+)\}$/.exec(part);
    if (parameter) parameters[parameter[1]!] = segment;
    else if (part !== segment) return undefined;
  }
  return pattern.length === segments.length ? parameters : undefined;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '').map(decodeSegment);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape cannot name a parameter value; keep it as sent, like API Gateway does.
    return segment;
  }
}

function specificity(route: HttpRoute): number {
  return splitPath(route.resource).filter((segment) => !segment.startsWith('{')).length;
}

/** Among equally specific routes, the one whose first literal comes earlier, then an exact method over ANY. */
function literalFirst(left: HttpRoute, right: HttpRoute): number {
  const firstParameter = (route: HttpRoute) => {
    const index = splitPath(route.resource).findIndex((segment) => segment.startsWith('{'));
    return index < 0 ? Number.MAX_SAFE_INTEGER : index;
  };
  return firstParameter(right) - firstParameter(left) || Number(left.method === 'ANY') - Number(right.method === 'ANY');
}
