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

/** Every problem found, each a reason to go after the field's name (templateBody). */
export type TemplateAnalysis = { ok: true; facts: TemplateFacts } | { ok: false; reasons: string[] };

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
    return { ok: false, reasons: [`is not valid JSON (${(error as Error).message})`] };
  }
  if (template === null || typeof template !== 'object' || Array.isArray(template)) {
    return { ok: false, reasons: ['must be a JSON object with Parameters and Resources'] };
  }
  const resources = Object.values(template.Resources ?? {});
  const parameters = template.Parameters ?? {};
  const things = resources.filter((resource) => resource?.Type === 'AWS::IoT::Thing');
  const thing = things.length === 1 ? things[0] : undefined;
  const thingProperties = thing?.Properties ?? {};
  const attributes = Object.entries((thingProperties.AttributePayload ?? {}) as Record<string, unknown>);
  const reasons = [
    ...(thing ? thingProblems(thing, attributes.length) : [`must declare exactly one AWS::IoT::Thing resource (found ${things.length})`]),
    ...(!('ThingName' in parameters) ? ["must declare the parameter ThingName, which the workflow sets to each device's thingName"] : []),
    // The registering role may attach existing policies but not create them (least privilege).
    ...(resources.some((resource) => resource?.Type === 'AWS::IoT::Policy' && resource.Properties?.PolicyDocument !== undefined)
      ? ['must not create a policy from a PolicyDocument: reference an existing policy by PolicyName']
      : []),
  ];
  if (reasons.length > 0) return { ok: false, reasons };
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
      requiredParameters: declaredParameters.filter((name) => name !== 'ThingName' && parameters[name]?.Default === undefined),
    },
  };
}

type ThingResource = NonNullable<TemplateShape['Resources']>[string];

function thingProblems(thing: ThingResource, attributeCount: number): string[] {
  const problems: string[] = [];
  const properties = thing.Properties ?? {};
  // Attach, association and rollback all address the thing by the device's thingName.
  if ((properties.ThingName as { Ref?: unknown } | undefined)?.Ref !== 'ThingName') {
    problems.push('must name its thing {"Ref": "ThingName"}, so that the thing created is the device\'s thingName');
  }
  // Taking an existing thing out of groups needs rights the registering role is not given (docs/security.md).
  if (thing.OverrideSettings?.ThingGroups === 'REPLACE') {
    problems.push("must not REPLACE an existing thing's ThingGroups: use MERGE or DO_NOTHING, which only add groups");
  }
  const maxAttributes = properties.ThingTypeName === undefined ? MAX_UNTYPED_THING_ATTRIBUTES : MAX_TYPED_THING_ATTRIBUTES;
  // Existing things keep their own attributes (and type) under DO_NOTHING: re-registering them may still succeed.
  const keepsExistingAttributes = thing.OverrideSettings?.AttributePayload === 'DO_NOTHING';
  if (attributeCount > maxAttributes && !keepsExistingAttributes) {
    const typed = properties.ThingTypeName === undefined ? 'without a ThingTypeName' : 'with a ThingTypeName';
    problems.push(`gives its thing ${attributeCount} attributes: a thing ${typed} takes at most ${maxAttributes}`);
  }
  return problems;
}
