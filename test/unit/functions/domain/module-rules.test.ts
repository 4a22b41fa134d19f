import { describe, expect, it } from 'vitest';

/**
 * The rules that the modules deciding what deprovisioning removes build as they load (the request schema with its
 * defaults and bounds, the attribute-value pattern). Each test imports its module itself: Stryker credits a
 * module's top-level code to the test that loads it, so that `npm run mutation` runs a mutant of these rules
 * against the assertions here rather than against a test that happens to load the module first.
 */
// The attribute pattern comes first: the deprovisioning schema loads its module too.
describe('rules built when their module loads', () => {
  it("an attribute value is at most 800 characters of the registry's alphabet, without spaces", async () => {
    const { ATTRIBUTE_VALUE_RULE, isValidAttributeValue } = await import('../../../../functions/domain/provisioning-template.ts');

    expect(['', 'a', 'site-7_b.c,d@e/f:g#h=i[j]k', 'x'.repeat(800)].map(isValidAttributeValue)).toEqual([true, true, true, true]);
    expect(['x'.repeat(801), 'two words', ' leading', 'trailing ', 'é'].map(isValidAttributeValue)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(ATTRIBUTE_VALUE_RULE).toBe('at most 800 characters of a-z, A-Z, 0-9 and _.,@/:#=[]- (no spaces)');
  });

  it('a deprovisioning request removes everything unless told otherwise, lists 1 to 200 devices, and knows its fields', async () => {
    const { deprovisioningRequestSchema } = await import('../../../../functions/domain/deprovisioning-request.ts');
    const { validate } = await import('../../../../functions/domain/validation.ts');
    const errorsOf = (request: unknown) => {
      const result = validate(deprovisioningRequestSchema, request);
      return result.ok ? [] : result.errors;
    };

    expect(validate(deprovisioningRequestSchema, { coreDeviceThingName: 'core', devices: [{ thingName: 'a' }] })).toEqual({
      ok: true,
      value: { coreDeviceThingName: 'core', disassociate: true, detachPrincipals: true, deleteThings: true, devices: [{ thingName: 'a' }] },
    });
    expect(errorsOf({ coreDeviceThingName: 'core', devices: [] })).toEqual([{ field: 'devices', reason: 'must list at least one device' }]);
    const tooMany = Array.from({ length: 201 }, (_, index) => ({ thingName: `device-${index}` }));
    expect(errorsOf({ coreDeviceThingName: 'core', devices: tooMany })).toEqual([
      { field: 'devices', reason: 'must list at most 200 devices: split the fleet into several requests' },
    ]);
    expect(errorsOf({ coreDeviceThingName: 'core', force: true, devices: [{ thingName: 'a', principal: 'p' }] })).toEqual(
      expect.arrayContaining([
        { field: 'force', reason: 'is not a known field' },
        { field: 'devices[0].principal', reason: 'is not a known field' },
      ]),
    );
    // The checks across fields run even when another field has the wrong type, so that one 400 names every problem.
    expect(
      errorsOf({ requestId: 5, coreDeviceThingName: 'core', devices: [{ thingName: 'a' }, { thingName: 'a' }] }).map(
        (error) => error.field,
      ),
    ).toEqual(['requestId', 'devices[1].thingName']);
  });
});
