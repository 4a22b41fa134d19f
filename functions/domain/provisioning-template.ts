/** What the workflow needs to know about a provisioning template before it starts. */
export interface TemplateFacts {
  /** The template issues or registers a certificate, so a device needs no `principal` of its own. */
  createsCertificate: boolean;
  /** The certificate comes from a CSR: each RegisterThing call issues a new one, which rollback may delete. */
  issuesCertificate: boolean;
  /** Parameters that have no `Default`: every device must receive a value for each. */
  requiredParameters: string[];
  declaredParameters: string[];
  /** Parameters that the thing takes as an attribute value as they are (`{"Ref": name}`), by attribute name. */
  attributeParameters: Record<string, string>;
}

/** The registry's rule for an attribute value (AttributeValue in the IoT API model): no spaces. */
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;
export const ATTRIBUTE_VALUE_RULE = 'at most 800 characters of a-z, A-Z, 0-9 and _.,@/:#=[]- (no spaces)';

export function isValidAttributeValue(value: string): boolean {
  return ATTRIBUTE_VALUE.test(value);
}

/** A thing without a thing type takes at most 3 attributes, with one 50 (AWS IoT quotas). */
const MAX_UNTYPED_THING_ATTRIBUTES = 3;
const MAX_TYPED_THING_ATTRIBUTES = 50;

export type TemplateAnalysis = { ok: true; facts: TemplateFacts } | { ok: false; reason: string };

interface TemplateShape {
  Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown>; OverrideSettings?: Record<string, unknown> }>;
}

/**
 * The thing name of every device reaches the template as the parameter `ThingName`, so a template
 * must declare it and create exactly one thing from it.
 */
export function analyzeTemplate(templateBody: string): TemplateAnalysis {
  let template: TemplateShape;
  try {
    template = JSON.parse(templateBody) as TemplateShape;
  } catch (error) {
    return { ok: false, reason: `is not valid JSON (${(error as Error).message})` };
  }
  if (template === null || typeof template !== 'object' || Array.isArray(template)) {
    return { ok: false, reason: 'must be a JSON object with Parameters and Resources' };
  }
  const resources = Object.values(template.Resources ?? {});
  const things = resources.filter((resource) => resource?.Type === 'AWS::IoT::Thing');
  if (things.length !== 1) {
    return { ok: false, reason: `must declare exactly one AWS::IoT::Thing resource (found ${things.length})` };
  }
  const parameters = template.Parameters ?? {};
  if (!('ThingName' in parameters)) {
    return { ok: false, reason: 'must declare the parameter ThingName, which the workflow sets to each device\'s thingName' };
  }
  // Attach, association and rollback all address the thing by the device's thingName.
  const thingName = things[0]?.Properties?.ThingName as { Ref?: unknown } | undefined;
  if (thingName?.Ref !== 'ThingName') {
    return { ok: false, reason: 'must name its thing {"Ref": "ThingName"}, so that the thing created is the device\'s thingName' };
  }
  // Taking an existing thing out of groups needs rights the registering role is not given (docs/security.md).
  if (things[0]?.OverrideSettings?.ThingGroups === 'REPLACE') {
    return { ok: false, reason: 'must not REPLACE an existing thing\'s ThingGroups: use MERGE or DO_NOTHING, which only add groups' };
  }
  // The registering role may attach existing policies but not create them (least privilege).
  if (resources.some((resource) => resource?.Type === 'AWS::IoT::Policy' && resource.Properties?.PolicyDocument !== undefined)) {
    return { ok: false, reason: 'must not create a policy from a PolicyDocument: reference an existing policy by PolicyName' };
  }
  const thingProperties = things[0]?.Properties ?? {};
  const attributes = Object.entries((thingProperties.AttributePayload ?? {}) as Record<string, unknown>);
  const maxAttributes = thingProperties.ThingTypeName === undefined ? MAX_UNTYPED_THING_ATTRIBUTES : MAX_TYPED_THING_ATTRIBUTES;
  // Existing things keep their own attributes (and type) under DO_NOTHING: re-registering them may still succeed.
  const keepsExistingAttributes = things[0]?.OverrideSettings?.AttributePayload === 'DO_NOTHING';
  if (attributes.length > maxAttributes && !keepsExistingAttributes) {
    const typed = thingProperties.ThingTypeName === undefined ? 'without a ThingTypeName' : 'with a ThingTypeName';
    return { ok: false, reason: `gives its thing ${attributes.length} attributes: a thing ${typed} takes at most ${maxAttributes}` };
  }
  const attributeParameters: Record<string, string> = {};
  for (const [attribute, value] of attributes) {
    const parameter = (value as { Ref?: unknown } | null)?.Ref;
    if (typeof parameter === 'string') attributeParameters[parameter] = attribute;
  }
  const declaredParameters = Object.keys(parameters);
  const certificates = resources.filter((resource) => resource?.Type === 'AWS::IoT::Certificate');
  return {
    ok: true,
    facts: {
      createsCertificate: certificates.length > 0,
      issuesCertificate: certificates.some((resource) => resource.Properties?.CertificateSigningRequest !== undefined),
      declaredParameters,
      attributeParameters,
      requiredParameters: declaredParameters.filter(
        (name) => name !== 'ThingName' && parameters[name]?.Default === undefined,
      ),
    },
  };
}
