import { describe, expect, it } from 'vitest';
import { analyzeTemplate } from '../../../../functions/domain/provisioning-template.ts';

/** A template the workflow accepts, with the thing resource's own fields added. */
function templateWithThing(thing: Record<string, unknown>, extraResources: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Parameters: { ThingName: { Type: 'String' } },
    Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } }, ...thing }, ...extraResources },
  });
}

/** What the registering role may do on the caller's behalf (docs/security.md) bounds what a template may ask. */
describe('a template asking for more than the registering role may do', () => {
  it('is refused when it would take an existing thing out of its groups', () => {
    const analysis = analyzeTemplate(templateWithThing({ OverrideSettings: { ThingGroups: 'REPLACE' } }));
    expect(analysis).toEqual({ ok: false, reasons: [expect.stringContaining("must not REPLACE an existing thing's ThingGroups")] });
  });

  it('is refused when it would create an IoT policy from a document', () => {
    const policy = { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{"Version":"2012-10-17","Statement":[]}' } };
    expect(analyzeTemplate(templateWithThing({}, { policy }))).toEqual({
      ok: false,
      reasons: [expect.stringContaining('must not create a policy')],
    });
  });

  it('is refused with every reason at once', () => {
    const policy = { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{}' } };
    const analysis = analyzeTemplate(templateWithThing({ OverrideSettings: { ThingGroups: 'REPLACE' } }, { policy }));
    expect(analysis).toEqual({
      ok: false,
      reasons: [expect.stringContaining('must not REPLACE'), expect.stringContaining('must not create a policy')],
    });
  });

  it.each(['MERGE', 'DO_NOTHING'])('is accepted when it only adds groups (ThingGroups %s) and a billing group', (override) => {
    const thing = {
      OverrideSettings: { ThingGroups: override },
      Properties: { ThingName: { Ref: 'ThingName' }, ThingGroups: ['line-1'], BillingGroup: 'plant-a' },
    };
    expect(analyzeTemplate(templateWithThing(thing))).toMatchObject({ ok: true });
  });
});

/** The registry's quotas that would refuse every device's RegisterThing are found before anything starts. */
describe('a template whose thing the registry would refuse', () => {
  const attributes = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`a${index}`, 'v']));

  it('is refused with more than 3 attributes and no thing type, and accepted with a thing type', () => {
    const untyped = { Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: attributes(4) } };
    expect(analyzeTemplate(templateWithThing(untyped))).toEqual({
      ok: false,
      reasons: ['gives its thing 4 attributes: a thing without a ThingTypeName takes at most 3'],
    });
    const typed = { Properties: { ...untyped.Properties, ThingTypeName: 'sensor' } };
    expect(analyzeTemplate(templateWithThing(typed))).toMatchObject({ ok: true });
    // Re-registering things that exist, with a type, leaves their attributes alone.
    expect(analyzeTemplate(templateWithThing({ ...untyped, OverrideSettings: { AttributePayload: 'DO_NOTHING' } }))).toMatchObject({
      ok: true,
    });
  });

  it('names the parameters the thing takes as attribute values', () => {
    const thing = { Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { site: { Ref: 'Site' }, fixed: 'v' } } };
    expect(analyzeTemplate(templateWithThing(thing))).toMatchObject({ ok: true, facts: { attributeParameters: { Site: 'site' } } });
  });
});
