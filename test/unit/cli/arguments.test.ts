import { describe, expect, it } from 'vitest';
import { type CliOptions, parseArguments, requestFieldsOf } from '../../../cli/arguments.ts';
import { DEPROVISIONING, PROVISIONING } from '../../../functions/domain/fleet-workflow.ts';

function options(...argv: string[]): CliOptions {
  const parsed = parseArguments(argv);
  if (parsed.kind !== 'run') throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

describe('parseArguments', () => {
  it('has defaults for everything but the manifest', () => {
    expect(options('fleet.csv')).toEqual({
      workflow: PROVISIONING,
      manifestPath: 'fleet.csv',
      apiUrl: new URL('http://127.0.0.1:3000'),
      region: undefined,
      concurrency: 4,
      reportPrefix: './iot-provision-report',
      dryRun: false,
      server: false,
      overrides: {
        templateParameters: {},
        coreDeviceThingName: undefined,
        templateName: undefined,
        templateFile: undefined,
        thingPrincipalType: undefined,
        rollbackOnFailure: undefined,
        disassociate: undefined,
        detachPrincipals: undefined,
        deleteThings: undefined,
      },
    });
  });

  it('deprovisions with --deprovision, into a report of its own, reading what to remove', () => {
    const deprovision = options('fleet.csv', '--deprovision', '--core', 'core-a', '--no-delete', '--no-detach');

    expect(deprovision).toMatchObject({ workflow: DEPROVISIONING, reportPrefix: './iot-deprovision-report' });
    expect(deprovision.overrides).toMatchObject({
      coreDeviceThingName: 'core-a',
      deleteThings: false,
      detachPrincipals: false,
      disassociate: undefined,
    });
    expect(options('fleet.csv', '--deprovision', '--report', 'out/r').reportPrefix).toBe('out/r');
  });

  it('reads request options, repeated --param (a value may hold "="), and --no-rollback', () => {
    const { overrides } = options(
      'fleet.csv',
      '--core',
      'core-a',
      '--param',
      'Site=berlin',
      '--param',
      'Query=a=b',
      '--principal-type',
      'NON_EXCLUSIVE_THING',
      '--no-rollback',
    );

    expect(overrides).toMatchObject({
      coreDeviceThingName: 'core-a',
      templateParameters: { Site: 'berlin', Query: 'a=b' },
      thingPrincipalType: 'NON_EXCLUSIVE_THING',
      rollbackOnFailure: false,
    });
  });

  it('takes the API URL from IOT_PROVISION_API_URL when --api-url does not give one, and names the variable of a bad one', () => {
    const fromEnvironment = parseArguments(['fleet.csv'], { IOT_PROVISION_API_URL: 'http://127.0.0.1:3100' });
    const fromFlag = parseArguments(['fleet.csv', '--api-url', 'http://127.0.0.1:3200'], {
      IOT_PROVISION_API_URL: 'http://127.0.0.1:3100',
    });
    const bad = parseArguments(['fleet.csv'], { IOT_PROVISION_API_URL: 'localhost:3100' });

    expect(fromEnvironment).toMatchObject({ kind: 'run', options: { apiUrl: new URL('http://127.0.0.1:3100') } });
    expect(fromFlag).toMatchObject({ kind: 'run', options: { apiUrl: new URL('http://127.0.0.1:3200') } });
    expect(bad).toEqual({ kind: 'usage-error', message: 'IOT_PROVISION_API_URL must be an http or https URL, got "localhost:3100"' });
  });

  it('reports usage errors', () => {
    const usage = (...argv: string[]) => {
      const parsed = parseArguments(argv);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(usage()).toBe('give the manifest file');
    expect(usage('a.csv', 'b.csv')).toBe('give one manifest file, not 2');
    expect(usage('a.csv', '--concurrency', '0')).toMatch(/--concurrency must be a positive integer/);
    expect(usage('a.csv', '--param', 'Site')).toMatch(/--param takes Name=Value/);
    expect(usage('a.csv', '--api-url', 'ftp://x')).toMatch(/--api-url must be an http or https URL/);
    expect(usage('a.csv', '--template', 't', '--template-file', 'f.json')).toBe('give --template or --template-file, not both');
    expect(usage('a.csv', '--colour')).toMatch(/Unknown option '--colour'/);
    expect(usage('a.csv', '--deprovision', '--template', 't', '--no-rollback')).toBe('--template, --no-rollback: not for --deprovision');
    expect(usage('a.csv', '--no-delete')).toBe('--no-delete: only with --deprovision');
    expect(usage('--help')).toBe('help');
  });
});

describe('requestFieldsOf', () => {
  const manifestDefaults = { coreDeviceThingName: 'core-m', templateBody: '{}', templateParameters: { Site: 'm', Model: 'm' } };

  it('lets the command line win, merging template parameters', () => {
    const fields = requestFieldsOf(
      manifestDefaults,
      { coreDeviceThingName: 'core-c', templateParameters: { Site: 'c' }, rollbackOnFailure: false },
      undefined,
    );

    expect(fields).toEqual({
      coreDeviceThingName: 'core-c',
      templateBody: '{}',
      templateParameters: { Site: 'c', Model: 'm' },
      rollbackOnFailure: false,
    });
  });

  it("replaces the manifest's template whichever way either names it", () => {
    expect(requestFieldsOf(manifestDefaults, { templateName: 'thing-with-attributes', templateParameters: {} }, undefined)).toMatchObject({
      templateName: 'thing-with-attributes',
    });
    expect(
      requestFieldsOf(manifestDefaults, { templateName: 'thing-with-attributes', templateParameters: {} }, undefined),
    ).not.toHaveProperty('templateBody');
    expect(requestFieldsOf({ templateName: 'x' }, { templateParameters: {} }, '{"file": 1}')).toEqual({ templateBody: '{"file": 1}' });
  });
});
