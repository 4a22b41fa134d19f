import type { LocalCloudState } from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { headerValue, queryBoolean, queryInteger, queryString } from '../../wire/http-bindings.ts';
import { listPages } from '../../wire/pagination.ts';
import { emptyResponse, jsonResponse } from '../../wire/rest-json.ts';
import type { RestRoute } from '../../wire/routes.ts';
import { iotError } from './errors.ts';
import { type Principal, parsePrincipal, policyArn, renderPrincipal } from './registry.ts';
import { markerPage, parseBody, requireValid } from './requests.ts';
import * as shapes from './shapes.ts';

/** "Maximum number of policies that can be attached to a certificate or Amazon Cognito identity" (IoT Core quotas). */
const MAX_POLICIES_PER_TARGET = 10;

/**
 * Policies attached to principals: AttachPolicy, DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy and
 * their deprecated predecessors AttachPrincipalPolicy, DetachPrincipalPolicy, ListPrincipalPolicies, which name
 * the principal in the `x-amzn-iot-principal` header. A target is a certificate ARN or a Cognito identity id;
 * thing groups, the third kind AWS takes, are not emulated.
 */
export function policyAttachmentRoutes(context: LocalCloudContext): RestRoute[] {
  const { store, accountId } = context;
  const state = store.state;

  const targetOf = (target: string, missing: (message: string) => never): Principal => {
    const principal = parsePrincipal(target, accountId);
    if (principal.isCertificate && !state.certificates.has(principal.key)) missing(`The certificate ${target} does not exist`);
    return principal;
  };
  const requirePolicy = (policyName: string) => {
    const policy = state.policies.get(policyName);
    if (!policy) throw iotError('ResourceNotFoundException', `Policy ${policyName} does not exist`);
    return policy;
  };
  const policyItems = (region: string, names: readonly string[]) =>
    names.map((policyName) => ({ policyName, policyArn: policyArn(region, accountId, policyName) }));

  const attach = (policyName: string, target: string) => {
    requirePolicy(policyName);
    const principal = targetOf(target, notFound);
    const names = attachedPolicies(state, principal);
    if (names.includes(policyName)) return emptyResponse();
    if (names.length >= MAX_POLICIES_PER_TARGET) {
      throw iotError('LimitExceededException', `A principal can have at most ${MAX_POLICIES_PER_TARGET} policies attached`);
    }
    setAttachedPolicies(state, principal, [...names, policyName]);
    return emptyResponse();
  };
  /** Detaching what is not attached changes nothing and is no error (the models list none for it). */
  const detach = (policyName: string, target: string, missing: (message: string) => never) => {
    const principal = targetOf(target, missing);
    const names = attachedPolicies(state, principal);
    if (names.includes(policyName)) {
      setAttachedPolicies(
        state,
        principal,
        names.filter((name) => name !== policyName),
      );
    }
    return emptyResponse();
  };
  const listFor = (target: string, region: string, paging: { marker?: string; pageSize?: number }, ascending: boolean) => {
    const principal = targetOf(target, notFound);
    const byCreation = attachedPolicies(state, principal)
      .map((name) => state.policies.get(name))
      .filter((policy) => policy !== undefined)
      .sort((a, b) => a.createdAt - b.createdAt || (a.policyName < b.policyName ? -1 : 1))
      .map((policy) => policy.policyName);
    const { items, nextMarker } = markerPage(
      listPages(ascending ? byCreation : byCreation.reverse(), (name) => name),
      paging,
    );
    return jsonResponse({ policies: policyItems(region, items), ...(nextMarker !== undefined && { nextMarker }) });
  };

  return [
    {
      method: 'PUT',
      path: '/target-policies/:policyName',
      operation: {
        name: 'AttachPolicy',
        run({ request, params }) {
          const input = requireValid({ ...parseBody(request.body), policyName: params['policyName'] }, shapes.policyTargetInput) as {
            policyName: string;
            target: string;
          };
          return attach(input.policyName, input.target);
        },
      },
    },
    {
      method: 'POST',
      path: '/target-policies/:policyName',
      operation: {
        name: 'DetachPolicy',
        run({ request, params }) {
          const input = requireValid({ ...parseBody(request.body), policyName: params['policyName'] }, shapes.policyTargetInput) as {
            policyName: string;
            target: string;
          };
          // DetachPolicy's model has no ResourceNotFoundException: an unknown target is an invalid request.
          return detach(input.policyName, input.target, invalid);
        },
      },
    },
    {
      method: 'POST',
      path: '/attached-policies/:target',
      operation: {
        name: 'ListAttachedPolicies',
        run({ request, params }) {
          const input = requireValid(
            {
              target: params['target'],
              recursive: queryBoolean(request.query, 'recursive'),
              marker: queryString(request.query, 'marker'),
              pageSize: queryInteger(request.query, 'pageSize'),
            },
            shapes.listAttachedPoliciesInput,
          ) as { target: string; marker?: string; pageSize?: number };
          // No thing groups, so `recursive` has nothing to add.
          return listFor(input.target, request.region, input, true);
        },
      },
    },
    {
      method: 'POST',
      path: '/policy-targets/:policyName',
      operation: {
        name: 'ListTargetsForPolicy',
        run({ request, params }) {
          const input = requireValid(
            {
              policyName: params['policyName'],
              marker: queryString(request.query, 'marker'),
              pageSize: queryInteger(request.query, 'pageSize'),
            },
            shapes.listTargetsForPolicyInput,
          ) as { policyName: string; marker?: string; pageSize?: number };
          requirePolicy(input.policyName);
          const targets = [
            ...[...state.certificates.values()]
              .filter((certificate) => certificate.policyNames.includes(input.policyName))
              .map((certificate) => certificate.certificateId),
            ...[...state.identityPolicies.entries()].filter(([, names]) => names.includes(input.policyName)).map(([identity]) => identity),
          ];
          const { items, nextMarker } = markerPage(
            listPages(targets, (key) => key),
            input,
          );
          return jsonResponse({
            targets: items.map((key) => renderPrincipal(request.region, accountId, key)),
            ...(nextMarker !== undefined && { nextMarker }),
          });
        },
      },
    },
    {
      method: 'PUT',
      path: '/principal-policies/:policyName',
      operation: {
        name: 'AttachPrincipalPolicy',
        run({ request, params }) {
          const input = requireValid(
            { policyName: params['policyName'], principal: headerValue(request.headers, 'x-amzn-iot-principal') },
            shapes.principalPolicyInput,
          ) as { policyName: string; principal: string };
          return attach(input.policyName, input.principal);
        },
      },
    },
    {
      method: 'DELETE',
      path: '/principal-policies/:policyName',
      operation: {
        name: 'DetachPrincipalPolicy',
        run({ request, params }) {
          const input = requireValid(
            { policyName: params['policyName'], principal: headerValue(request.headers, 'x-amzn-iot-principal') },
            shapes.principalPolicyInput,
          ) as { policyName: string; principal: string };
          return detach(input.policyName, input.principal, notFound);
        },
      },
    },
    {
      method: 'GET',
      path: '/principal-policies',
      operation: {
        name: 'ListPrincipalPolicies',
        run({ request }) {
          const input = requireValid(
            {
              principal: headerValue(request.headers, 'x-amzn-iot-principal'),
              marker: queryString(request.query, 'marker'),
              pageSize: queryInteger(request.query, 'pageSize'),
              ascendingOrder: queryBoolean(request.query, 'isAscendingOrder'),
            },
            shapes.listPrincipalPoliciesInput,
          ) as { principal: string; marker?: string; pageSize?: number; ascendingOrder?: boolean };
          return listFor(input.principal, request.region, input, input.ascendingOrder === true);
        },
      },
    },
  ];
}

function notFound(message: string): never {
  throw iotError('ResourceNotFoundException', message);
}

function invalid(message: string): never {
  throw iotError('InvalidRequestException', message);
}

function attachedPolicies(state: LocalCloudState, principal: Principal): readonly string[] {
  if (principal.isCertificate) return state.certificates.get(principal.key)?.policyNames ?? [];
  return state.identityPolicies.get(principal.key) ?? [];
}

function setAttachedPolicies(state: LocalCloudState, principal: Principal, policyNames: string[]): void {
  const certificate = principal.isCertificate ? state.certificates.get(principal.key) : undefined;
  if (certificate) state.certificates.set(certificate.certificateId, { ...certificate, policyNames });
  else if (policyNames.length > 0) state.identityPolicies.set(principal.key, policyNames);
  else state.identityPolicies.delete(principal.key);
}
