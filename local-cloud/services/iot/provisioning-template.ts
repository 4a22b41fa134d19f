import type { CertificateStatus } from '../../store.ts';
import { describeViolations, isPlainObject, validate } from '../../wire/validation.ts';
import { iotError } from './errors.ts';
import { policyDocumentProblem } from './registry.ts';
import { certificateId as certificateIdShape, policyName as policyNameShape, templateThingProperties } from './shapes.ts';

/**
 * Reads a provisioning template (Parameters, Mappings, Resources) and resolves its intrinsic
 * functions into a plan of at most one thing, one certificate and one policy.
 */

export type OverrideAction = 'DO_NOTHING' | 'REPLACE' | 'MERGE' | 'FAIL';

/** Property → action; consulted only when the resource already exists. */
export type OverrideSettings = Readonly<Record<string, OverrideAction>>;

export interface ThingProperties {
  ThingName: string;
  ThingTypeName?: string;
  AttributePayload?: Record<string, string>;
  ThingGroups?: string[];
  BillingGroup?: string;
}

export interface ThingResource {
  logicalId: string;
  properties: ThingProperties;
  overrides?: OverrideSettings;
}

export type CertificateSource =
  | { kind: 'id'; certificateId: string }
  | { kind: 'pem'; certificatePem: string }
  | { kind: 'csr'; certificateSigningRequest: string };

export interface CertificateResource {
  logicalId: string;
  source: CertificateSource;
  status: CertificateStatus;
  overrides?: OverrideSettings;
}

export type PolicySource = { kind: 'name'; policyName: string } | { kind: 'document'; policyDocument: string };

export interface PolicyResource {
  logicalId: string;
  source: PolicySource;
}

export interface ProvisioningPlan {
  thing?: ThingResource;
  certificate?: CertificateResource;
  policy?: PolicyResource;
}

const OVERRIDE_ACTIONS: readonly string[] = ['DO_NOTHING', 'REPLACE', 'MERGE', 'FAIL'];
/** Which properties accept overrides, and which of those may MERGE (provisioning-template docs). */
const OVERRIDABLE: Readonly<Record<string, { properties: readonly string[]; mergeable: readonly string[] }>> = {
  'AWS::IoT::Thing': { properties: ['AttributePayload', 'ThingTypeName', 'ThingGroups'], mergeable: ['AttributePayload', 'ThingGroups'] },
  'AWS::IoT::Certificate': { properties: ['Status'], mergeable: [] },
  'AWS::IoT::Policy': { properties: [], mergeable: [] },
};

interface Scope {
  parameters: Readonly<Record<string, string>>;
  defaults: Readonly<Record<string, string>>;
  mappings: Readonly<Record<string, unknown>>;
}

export function planTemplate(templateBody: string, parameters: Readonly<Record<string, string>>): ProvisioningPlan {
  let template: unknown;
  try {
    template = JSON.parse(templateBody);
  } catch {
    throw invalid('The template body is not valid JSON');
  }
  if (!isPlainObject(template)) throw invalid('The template body must be a JSON object');
  const scope: Scope = {
    parameters,
    defaults: readParameterDefaults(template['Parameters']),
    mappings: isPlainObject(template['Mappings']) ? template['Mappings'] : {},
  };
  const resources = template['Resources'];
  if (!isPlainObject(resources) || Object.keys(resources).length === 0) {
    throw invalid('The template must declare at least one resource in Resources');
  }

  const plan: ProvisioningPlan = {};
  for (const [logicalId, declaration] of Object.entries(resources)) {
    if (!isPlainObject(declaration)) throw invalid(`Resource ${logicalId} must be an object`);
    const type = declaration['Type'];
    const properties = resolve(declaration['Properties'] ?? {}, scope);
    if (!isPlainObject(properties)) throw invalid(`Properties of resource ${logicalId} must be an object`);
    const overrides = readOverrides(logicalId, String(type), declaration['OverrideSettings']);
    switch (type) {
      case 'AWS::IoT::Thing':
        if (plan.thing) throw invalid('A template can provision only one AWS::IoT::Thing');
        plan.thing = { logicalId, properties: readThing(logicalId, properties), ...(overrides && { overrides }) };
        break;
      case 'AWS::IoT::Certificate':
        if (plan.certificate) throw invalid('A template can provision only one AWS::IoT::Certificate');
        plan.certificate = { logicalId, ...readCertificate(logicalId, properties), ...(overrides && { overrides }) };
        break;
      case 'AWS::IoT::Policy':
        if (plan.policy) throw invalid('A template can provision only one AWS::IoT::Policy');
        plan.policy = { logicalId, source: readPolicy(logicalId, properties) };
        break;
      default:
        throw invalid(`Resource ${logicalId} has unsupported type ${String(type)}`);
    }
  }
  return plan;
}

function readParameterDefaults(declared: unknown): Record<string, string> {
  const defaults: Record<string, string> = {};
  if (!isPlainObject(declared)) return defaults;
  for (const [name, declaration] of Object.entries(declared)) {
    if (isPlainObject(declaration) && declaration['Default'] !== undefined) defaults[name] = String(declaration['Default']);
  }
  return defaults;
}

function readOverrides(logicalId: string, type: string, declared: unknown): OverrideSettings | undefined {
  if (declared === undefined) return undefined;
  if (!isPlainObject(declared)) throw invalid(`OverrideSettings of resource ${logicalId} must be an object`);
  const allowed = OVERRIDABLE[type];
  const overrides: Record<string, OverrideAction> = {};
  for (const [property, action] of Object.entries(declared)) {
    if (typeof action !== 'string' || !OVERRIDE_ACTIONS.includes(action)) {
      throw invalid(`OverrideSettings.${property} of resource ${logicalId} must be one of ${OVERRIDE_ACTIONS.join(', ')}`);
    }
    if (allowed && !allowed.properties.includes(property)) {
      throw invalid(`Property ${property} of resource ${logicalId} does not accept OverrideSettings`);
    }
    if (action === 'MERGE' && allowed && !allowed.mergeable.includes(property)) {
      throw invalid(`Property ${property} of resource ${logicalId} cannot MERGE`);
    }
    overrides[property] = action as OverrideAction;
  }
  return overrides;
}

function readThing(logicalId: string, properties: Record<string, unknown>): ThingProperties {
  const violations = validate(properties, templateThingProperties, logicalId);
  if (violations.length > 0) throw invalid(describeViolations(violations));
  return properties as unknown as ThingProperties;
}

function readCertificate(logicalId: string, properties: Record<string, unknown>): Pick<CertificateResource, 'source' | 'status'> {
  const status = readStatus(logicalId, properties['Status']);
  const sources = ['CertificateId', 'CertificatePem', 'CertificateSigningRequest'].filter((key) => properties[key] !== undefined);
  if (sources.length !== 1) {
    throw invalid(`Resource ${logicalId} needs exactly one of CertificateId, CertificatePem, CertificateSigningRequest`);
  }
  const value = properties[sources[0] as string];
  if (typeof value !== 'string') throw invalid(`${sources[0]} of resource ${logicalId} must resolve to a string`);
  switch (sources[0]) {
    case 'CertificateId': {
      const violations = validate(value, certificateIdShape, `${logicalId}.CertificateId`);
      if (violations.length > 0) throw invalid(describeViolations(violations));
      return { source: { kind: 'id', certificateId: value.replace(/^0x/, '').toLowerCase() }, status };
    }
    case 'CertificatePem':
      return { source: { kind: 'pem', certificatePem: value }, status };
    default:
      return { source: { kind: 'csr', certificateSigningRequest: value }, status };
  }
}

/** The docs' own CLI example writes `"Active"`, so status is case-insensitive. */
function readStatus(logicalId: string, value: unknown): CertificateStatus {
  if (value === undefined) return 'ACTIVE';
  const status = typeof value === 'string' ? value.toUpperCase() : '';
  if (status !== 'ACTIVE' && status !== 'INACTIVE') throw invalid(`Status of resource ${logicalId} must be ACTIVE or INACTIVE`);
  return status;
}

function readPolicy(logicalId: string, properties: Record<string, unknown>): PolicySource {
  const { PolicyName: name, PolicyDocument: document } = properties;
  if ((name === undefined) === (document === undefined)) {
    throw invalid(`Resource ${logicalId} needs exactly one of PolicyName, PolicyDocument`);
  }
  if (name !== undefined) {
    const violations = validate(name, policyNameShape, `${logicalId}.PolicyName`);
    if (violations.length > 0) throw invalid(describeViolations(violations));
    return { kind: 'name', policyName: name as string };
  }
  // Fleet-provisioning templates may give the document as an object rather than escaped JSON.
  const policyDocument = typeof document === 'string' ? document : JSON.stringify(document);
  const problem = policyDocumentProblem(policyDocument);
  if (problem !== undefined) throw invalid(`PolicyDocument of resource ${logicalId}: ${problem}`);
  return { kind: 'document', policyDocument };
}

function resolve(node: unknown, scope: Scope): unknown {
  if (Array.isArray(node)) return node.map((item) => resolve(item, scope));
  if (!isPlainObject(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [name] = keys as [string];
    const argument = node[name];
    switch (name) {
      case 'Ref':
        return reference(String(argument), scope);
      case 'Fn::Join': {
        const [delimiter, items] = expectArguments(name, resolve(argument, scope), 2);
        return expectList(name, items)
          .map((item) => expectString(name, item))
          .join(expectString(name, delimiter));
      }
      case 'Fn::Select': {
        const [index, items] = expectArguments(name, resolve(argument, scope), 2);
        const list = expectList(name, items);
        const position = Number(index);
        if (!Number.isInteger(position) || position < 0 || position >= list.length) {
          throw invalid(`Fn::Select index ${String(index)} is out of range`);
        }
        return list[position];
      }
      case 'Fn::Split': {
        const [delimiter, source] = expectArguments(name, resolve(argument, scope), 2);
        return expectString(name, source).split(expectString(name, delimiter));
      }
      case 'Fn::Sub':
        return substitute(argument, scope);
      case 'Fn::FindInMap': {
        const [mapName, topKey, secondKey] = expectArguments(name, resolve(argument, scope), 3).map((key) => expectString(name, key));
        const value = lookup(lookup(scope.mappings, mapName as string), topKey as string);
        const found = lookup(value, secondKey as string);
        if (found === undefined) throw invalid(`Fn::FindInMap found no ${mapName}.${topKey}.${secondKey}`);
        return found;
      }
    }
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(value, scope)]));
}

function reference(name: string, scope: Scope): string {
  const value = scope.parameters[name] ?? scope.defaults[name];
  if (value === undefined) throw invalid(`Parameter ${name} has no value and no Default`);
  return value;
}

/** `${Name}` takes the variable map first, then parameters; `${!Literal}` writes `${Literal}`. */
function substitute(argument: unknown, scope: Scope): string {
  const resolved = Array.isArray(argument) ? resolve(argument, scope) : argument;
  const [text, variables = {}] = Array.isArray(resolved) ? resolved : [resolved];
  if (!isPlainObject(variables)) throw invalid('Fn::Sub variables must be an object');
  return expectString('Fn::Sub', text).replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
    if (literal) return `\${${name}}`;
    const variable = variables[name];
    return variable !== undefined ? expectString('Fn::Sub', variable) : reference(name, scope);
  });
}

function lookup(value: unknown, key: string): unknown {
  return isPlainObject(value) ? value[key] : undefined;
}

function expectArguments(name: string, value: unknown, count: number): unknown[] {
  if (!Array.isArray(value) || value.length !== count) throw invalid(`${name} takes a list of ${count} arguments`);
  return value;
}

function expectList(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw invalid(`${name} expects a list`);
  return value;
}

function expectString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(`${name} expects strings, got ${JSON.stringify(value)}`);
  return value;
}

function invalid(message: string) {
  return iotError('InvalidRequestException', message);
}
