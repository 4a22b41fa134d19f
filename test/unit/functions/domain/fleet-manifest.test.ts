import { describe, expect, it, vi } from 'vitest';
import {
  coreDeviceOf,
  csvManifestRows,
  describeField,
  describeRow,
  type Manifest,
  type ManifestParse,
  type ManifestRow,
  ManifestUnreadable,
  ManifestValidator,
  manifestFormatOf,
  parseManifest,
  requestBytes,
  validateManifest,
  withRequestOverrides,
} from '../../../../functions/domain/fleet-manifest.ts';
import { DEPROVISIONING, PROVISIONING } from '../../../../functions/domain/fleet-workflow.ts';
import { MAX_REQUEST_BYTES } from '../../../../functions/domain/limits.ts';
import { certificateArn } from '../../../support/fleet-fixtures.ts';

function parsed(result: ManifestParse): Manifest {
  if (!result.ok) throw new Error(`expected a manifest, got ${JSON.stringify(result.problems)}`);
  return result.manifest;
}

describe('CSV manifests', () => {
  it('maps columns to device fields, param.<Name> to parameters, and leaves empty cells out', () => {
    const manifest = parsed(
      parseManifest(
        'thingName,principal,coreDeviceThingName,param.Site,param.Model\nsensor-1,,core-a,berlin,\nsensor-2,arn:x,,,m2\n',
        'csv',
      ),
    );

    expect(manifest.rows.map((row) => row.device)).toEqual([
      { thingName: 'sensor-1', coreDeviceThingName: 'core-a', parameters: { Site: 'berlin' } },
      { thingName: 'sensor-2', principal: 'arn:x', parameters: { Model: 'm2' } },
    ]);
  });

  it('numbers rows by the line where they start, counting the header, blank lines and line breaks inside quotes', () => {
    const text = 'thingName,param.Note\r\nsensor-1,a\r\n\r\nsensor-2,"two\r\nlines"\r\nsensor-3,b\r\n';

    const manifest = parsed(parseManifest(text, 'csv'));

    expect(manifest.rows.map(({ index, line }) => ({ index, line }))).toEqual([
      { index: 0, line: 2 },
      { index: 1, line: 4 },
      { index: 2, line: 6 },
    ]);
    expect(manifest.rows[1]!.device).toEqual({ thingName: 'sensor-2', parameters: { Note: 'two\nlines' } });
  });

  it('reads a byte order mark and spaces around cells as nothing', () => {
    const manifest = parsed(parseManifest('\uFEFFthingName , coreDeviceThingName\n sensor-1 , core-a\n', 'csv'));

    expect(manifest.rows[0]!.device).toEqual({ thingName: 'sensor-1', coreDeviceThingName: 'core-a' });
  });

  it('rejects a header without thingName, with unknown or repeated columns, all at once', () => {
    const result = parseManifest('name,principal,principal,param.\nsensor-1,,,\n', 'csv');

    expect(result).toEqual({
      ok: false,
      problems: [
        { where: 'line 1', reason: 'has no thingName column' },
        { where: 'line 1', reason: 'has an unknown column "name": expected thingName, principal, coreDeviceThingName or param.<Name>' },
        { where: 'line 1', reason: 'names the column "principal" twice' },
        { where: 'line 1', reason: expect.stringContaining('unknown column "param."') },
      ],
    });
  });

  it('reads on past a row with the wrong number of cells, marking each such row for validation to report', () => {
    const manifest = parsed(
      parseManifest('thingName,principal,coreDeviceThingName\nbad name,x,demo-core\nshort-row,x\nok,x,demo-core,extra\nalone\n', 'csv'),
    );

    expect(manifest.rows.map(({ line, problem }) => ({ line, problem }))).toEqual([
      { line: 2, problem: undefined },
      { line: 3, problem: 'has 2 cells; the header has 3 columns' },
      { line: 4, problem: 'has 4 cells; the header has 3 columns' },
      { line: 5, problem: 'has 1 cell; the header has 3 columns' },
    ]);
    // The cells a short row lacks are not given.
    expect(manifest.rows[1]!.device).toEqual({ thingName: 'short-row', principal: 'x' });
  });

  it('points a quote that is never closed at the line where its row starts, and names that line once', () => {
    const result = parseManifest('thingName,param.Note\r\nsensor-1,a\r\n\r\nsensor-2,"open\r\nsensor-3,b\r\nsensor-4,c\r\n', 'csv');

    expect(result).toEqual({
      ok: false,
      problems: [{ where: 'line 4', reason: 'Quote Not Closed: the parsing is finished with an opening quote' }],
    });
  });

  it("points a header whose quote is never closed at line 1, and a malformed row past line 9 without its line's number", () => {
    expect(parseManifest('"thingName\nsensor-1\n', 'csv')).toEqual({
      ok: false,
      problems: [{ where: 'line 1', reason: 'Quote Not Closed: the parsing is finished with an opening quote' }],
    });
    const rows = Array.from({ length: 10 }, (_, index) => `sensor-${index},a`);
    const result = parseManifest(`thingName,param.Note\n${rows.join('\n')}\nsensor-x,"b"x\n`, 'csv');
    expect(result).toEqual({
      ok: false,
      problems: [{ where: 'line 12', reason: expect.stringMatching(/^Invalid Closing Quote: [^0-9]*$/) }],
    });
  });

  it('points any other malformed row at the line where it starts, without a second line number', () => {
    const result = parseManifest('thingName,param.Note\nsensor-1,"two\nlines"x\n', 'csv');

    expect(result).toEqual({
      ok: false,
      problems: [{ where: 'line 2', reason: expect.stringMatching(/^Invalid Closing Quote: got "x" instead of delimiter/) }],
    });
  });

  it('rejects an empty file', async () => {
    // Loaded afresh: the problem is a module-level constant, credited to the tests that load the module.
    vi.resetModules();
    const fresh = await import('../../../../functions/domain/fleet-manifest.ts');
    expect(fresh.parseManifest('', 'csv')).toEqual({
      ok: false,
      problems: [{ where: 'manifest', reason: 'is empty: expected a header row and one row per device' }],
    });
  });

  it('says what makes a manifest unreadable, each problem where it is', () => {
    const problems = [
      { where: 'line 1', reason: 'has no thingName column' },
      { where: 'line 1', reason: 'names the column "principal" twice' },
    ];
    expect(new ManifestUnreadable(problems).message).toBe('line 1: has no thingName column; line 1: names the column "principal" twice');
  });
});

describe('JSON manifests', () => {
  it('takes an array as the device list, each device with the line where it starts', () => {
    const text = '[\n  {"thingName": "sensor-1"},\n  {\n    "thingName": "sensor-2"\n  }\n]';

    const manifest = parsed(parseManifest(text, 'json'));

    expect(manifest.format).toBe('json');
    expect(manifest.defaults).toEqual({});
    expect(manifest.rows).toEqual([
      { index: 0, line: 2, device: { thingName: 'sensor-1' } },
      { index: 1, line: 3, device: { thingName: 'sensor-2' } },
    ]);
  });

  it('takes request fields beside a "devices" array as defaults', () => {
    const text = JSON.stringify(
      { coreDeviceThingName: 'core-a', templateParameters: { Site: 'x' }, devices: [{ thingName: 'sensor-1' }] },
      null,
      2,
    );

    const manifest = parsed(parseManifest(text, 'json'));

    expect(manifest.defaults).toEqual({ coreDeviceThingName: 'core-a', templateParameters: { Site: 'x' } });
    expect(manifest.rows).toEqual([{ index: 0, line: 7, device: { thingName: 'sensor-1' } }]);
  });

  it('locates devices after ones that are not objects', () => {
    const text = '[\n  null,\n  5,\n  true,\n  {"thingName": "e"}\n]';

    expect(parsed(parseManifest(text, 'json')).rows.map((row) => row.line)).toEqual([2, 3, 4, 5]);
  });

  it('locates the devices of the last "devices" key, the list JSON.parse keeps', () => {
    const text = '{"devices": [{"thingName": "old"}],\n "devices": [\n  {"thingName": "sensor-1"}\n]}';

    expect(parsed(parseManifest(text, 'json')).rows).toEqual([{ index: 0, line: 3, device: { thingName: 'sensor-1' } }]);
  });

  it('locates devices past strings holding brackets, quotes and backslashes, nested lists and a "devices" key elsewhere', () => {
    const text = [
      '{"templateParameters": {"devices": ["not", "these"]}, "note": "[{\\"\\\\",',
      ' "devices": [{"thingName": "a", "parameters": {"List": "[1, 2]"}},',
      '',
      '  {"thingName": "b\\\\"}, {"thingName": "c"}',
      ' ], "after": [[], {}]}',
    ].join('\n');

    expect(parsed(parseManifest(text, 'json')).rows.map((row) => [row.line, (row.device as { thingName: string }).thingName])).toEqual([
      [2, 'a'],
      [4, 'b\\'],
      [4, 'c'],
    ]);
  });

  it('locates devices after spaces, tabs and CRLF line ends, past lists inside devices and a string with one escaped quote', () => {
    const text = [
      '{"devices": [ \t',
      '  {"thingName": "a", "tags": ["x", "y"], "note": "say \\" once"},\t',
      '  {"thingName": "b"}',
      ']}',
    ].join('\r\n');

    expect(parsed(parseManifest(text, 'json')).rows.map((row) => [row.line, (row.device as { thingName: string }).thingName])).toEqual([
      [2, 'a'],
      [3, 'b'],
    ]);
  });

  it('rejects text that is not JSON and a shape without devices', () => {
    expect(parseManifest('{"devices": [', 'json')).toEqual({
      ok: false,
      problems: [{ where: 'manifest', reason: expect.stringMatching(/^is not valid JSON: ./) }],
    });
    expect(parseManifest('{"things": []}', 'json')).toEqual({
      ok: false,
      problems: [{ where: 'manifest', reason: 'must be an array of devices or an object with a "devices" array' }],
    });
  });
});

describe('manifestFormatOf', () => {
  it('knows .csv and .json in any case, and nothing else', () => {
    expect(['fleet.CSV', 'dir.v2/fleet.json', 'fleet.yaml', 'fleet'].map(manifestFormatOf)).toEqual(['csv', 'json', undefined, undefined]);
  });
});

/** What csvManifestRows makes of the text cut into chunks of `size` bytes, in parseManifest's terms. */
async function streamed(text: string, size: number): Promise<ManifestParse> {
  const bytes = Buffer.from(text);
  const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, index) => bytes.subarray(index * size, (index + 1) * size));
  const rows = [];
  try {
    for await (const row of csvManifestRows(chunks)) rows.push(row);
  } catch (error) {
    if (error instanceof ManifestUnreadable) return { ok: false, problems: error.problems };
    throw error;
  }
  return { ok: true, manifest: { format: 'csv', defaults: {}, rows } };
}

describe('csvManifestRows', () => {
  const texts = {
    'rows, a blank line, quoted commas and line breaks':
      'thingName,param.Site\r\nsensor-1,"a, b"\r\n\r\n  \nsensor-2,"two\r\nlines"\nsensor-3,x\n',
    'a row with too many cells': 'thingName\nsensor-1\nsensor-2,extra\n',
    'a BOM and no final line break': '\uFEFFthingName,principal\nsensör-1,arn:x',
    'a quote never closed, after blank lines': 'thingName\nsensor-1\n\n \n"sensor-2\nsensor-3\n',
    'an unknown column': 'thingName,colour\nsensor-1,red\n',
    'blank lines before a header whose quote is never closed': '\n \n"thingName\nsensor-1\n',
    'a quote never closed on the last line, after blank lines, with no final line break': 'thingName\nsensor-1\n\n \n"sensor-2',
    nothing: '',
  };

  it.each(Object.entries(texts))('reads %s as parseManifest does, however the bytes are cut', async (_, text) => {
    const whole = parseManifest(text, 'csv');
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) expect(await streamed(text, size)).toEqual(whole);
  });
});

describe('where a problem points', () => {
  it('names a CSV row by its line, a JSON device by its index and, where known, its line', () => {
    expect(describeRow('csv', { index: 4, line: 6, device: {} })).toBe('line 6');
    expect(describeRow('json', { index: 4, line: 9, device: {} })).toBe('devices[4] (line 9)');
    expect(describeRow('json', { index: 4, device: {} })).toBe('devices[4]');
  });

  it("spells a device's parameter as the CSV column param.<Name>, and leaves JSON fields and other fields as they are", () => {
    expect(describeField('csv', 'parameters.Site')).toBe('param.Site');
    expect(describeField('csv', 'thingName')).toBe('thingName');
    expect(describeField('csv', 'templateParameters.Site')).toBe('templateParameters.Site');
    expect(describeField('json', 'parameters.Site')).toBe('parameters.Site');
  });
});

/** A CSV-like row of a valid device on core-a, with its own certificate. */
const deviceRow = (index: number, thingName = `sensor-${index}`): ManifestRow => ({
  index,
  line: index + 2,
  device: { thingName, principal: certificateArn(index), coreDeviceThingName: 'core-a' },
});

describe('ManifestValidator', () => {
  it('keeps the first maxProblems problems and counts the rest; a manifest is valid until its first problem', () => {
    const validator = new ManifestValidator('csv', {}, PROVISIONING, 2);

    expect(validator.check(deviceRow(0))).toEqual({ index: 0, line: 2, where: 'line 2', device: deviceRow(0).device });
    expect(validator.valid).toBe(true);
    expect(validator.check(deviceRow(1, 'bad name'))).toBeUndefined();
    expect(validator.valid).toBe(false);
    validator.check({ index: 2, line: 4, device: {}, problem: 'has 2 cells; the header has 3 columns' });
    validator.check(deviceRow(3, 'also bad'));

    expect(validator.result()).toEqual({
      ok: false,
      problems: [
        { where: 'line 3', field: 'thingName', reason: expect.stringContaining('must be 1-128 characters') },
        { where: 'line 4', reason: 'has 2 cells; the header has 3 columns' },
      ],
      problemCount: 3,
    });
  });

  it('counts the valid devices and answers the options with their defaults', () => {
    const validator = new ManifestValidator('csv', { rollbackOnFailure: false }, PROVISIONING);
    for (const index of [0, 1, 2]) validator.check(deviceRow(index));

    expect(validator.options).toEqual({ thingPrincipalType: 'EXCLUSIVE_THING', rollbackOnFailure: false });
    expect(validator.result()).toEqual({
      ok: true,
      options: { thingPrincipalType: 'EXCLUSIVE_THING', rollbackOnFailure: false },
      deviceCount: 3,
    });
  });

  it('reports each different problem of the request-level fields once', () => {
    const validator = new ManifestValidator('csv', { templateName: 'nope', thingPrincipalType: 'SHARED' }, PROVISIONING);
    for (const index of [0, 1, 2]) validator.check(deviceRow(index));

    expect(validator.result()).toMatchObject({
      ok: false,
      problems: [
        { where: 'request options', field: 'templateName', reason: expect.stringContaining('must be one of') },
        { where: 'request options', field: 'thingPrincipalType', reason: 'must be EXCLUSIVE_THING or NON_EXCLUSIVE_THING' },
      ],
      problemCount: 2,
    });
  });

  it('is not valid with a problem of the manifest or the request options, whatever else is wrong', () => {
    const withRequestProblem = new ManifestValidator('csv', { templateName: 'nope' }, PROVISIONING);
    withRequestProblem.check(deviceRow(0, 'bad name'));
    expect(withRequestProblem.valid).toBe(false);
    const withManifestProblem = new ManifestValidator('csv', { requestId: 'r-1', templateName: 'nope' }, PROVISIONING);
    withManifestProblem.check(deviceRow(0));
    expect(withManifestProblem.valid).toBe(false);
  });

  it('reports a template parameter named like a device field as a request option, not as a device', () => {
    const validator = new ManifestValidator('csv', { templateParameters: { 'devices[0]': 'x' } }, PROVISIONING);
    validator.check(deviceRow(0));

    expect(validator.result()).toMatchObject({
      ok: false,
      problems: [
        { where: 'request options', field: 'templateParameters.devices[0]', reason: expect.stringContaining('is not a parameter') },
      ],
    });
  });
});

describe('validateManifest across rows', () => {
  it('takes devices without a thing name for missing names, not for duplicates of one another', () => {
    const manifest = parsed(
      parseManifest(`thingName,principal,coreDeviceThingName\n,${certificateArn(1)},core-a\n,${certificateArn(2)},core-a\n`, 'csv'),
    );

    expect(validateManifest(manifest, {}, PROVISIONING)).toEqual({
      ok: false,
      problems: [
        { where: 'line 2', field: 'thingName', reason: expect.stringContaining('must be 1-128 characters') },
        { where: 'line 3', field: 'thingName', reason: expect.stringContaining('must be 1-128 characters') },
      ],
    });
  });

  it('says that a JSON device of null must be an object', () => {
    const manifest = parsed(parseManifest('{"coreDeviceThingName": "core-a", "devices": [null]}', 'json'));

    expect(validateManifest(manifest, manifest.defaults, PROVISIONING)).toEqual({
      ok: false,
      problems: [{ where: 'devices[0] (line 1)', reason: 'must be an object' }],
    });
  });

  it('lets two deprovisioned devices name the same certificate: deprovisioning attaches none', () => {
    const rows = [deviceRow(0), { ...deviceRow(1), device: { ...(deviceRow(1).device as object), principal: certificateArn(0) } }];

    expect(validateManifest({ format: 'csv', defaults: {}, rows }, {}, DEPROVISIONING)).toMatchObject({ ok: true });
    expect(validateManifest({ format: 'csv', defaults: {}, rows }, {}, PROVISIONING)).toMatchObject({
      ok: false,
      problems: [{ where: 'line 3', field: 'principal', reason: expect.stringContaining('duplicates line 2') }],
    });
  });

  it('refuses a device whose request, with the longest request id, would be larger than a request may be', () => {
    // A template declaring 50 parameters, each taking up to 4,096 characters: one device can fill a request.
    const names = Array.from({ length: 50 }, (_, index) => `P${String(index).padStart(2, '0')}`);
    const templateBody = JSON.stringify({
      Parameters: Object.fromEntries([['ThingName', { Type: 'String' }], ...names.map((name) => [name, { Type: 'String', Default: 'x' }])]),
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } } },
    });
    const options = { templateBody, thingPrincipalType: 'EXCLUSIVE_THING' as const, rollbackOnFailure: true };
    const deviceOf = (extraChars: number) => {
      const device = { ...(deviceRow(0).device as { thingName: string }), parameters: {} as Record<string, string> };
      names.forEach((name, index) => {
        device.parameters[name] = 'v'.repeat(4_000 + Math.floor(extraChars / names.length) + (index === 0 ? extraChars % names.length : 0));
      });
      return device;
    };
    const fitting = deviceOf(MAX_REQUEST_BYTES - requestBytes(options, [deviceOf(0)]));
    const validate = (device: unknown) =>
      validateManifest({ format: 'json', defaults: {}, rows: [{ index: 0, line: 2, device }] }, { templateBody }, PROVISIONING);

    expect(requestBytes(options, [fitting])).toBe(MAX_REQUEST_BYTES);
    expect(validate(fitting)).toMatchObject({ ok: true });
    const oneByteMore = deviceOf(MAX_REQUEST_BYTES - requestBytes(options, [deviceOf(0)]) + 1);
    expect(validate(oneByteMore)).toEqual({
      ok: false,
      problems: [
        {
          where: 'devices[0] (line 2)',
          reason: `makes a request of ${MAX_REQUEST_BYTES + 1} bytes on its own; a request must stay within ${MAX_REQUEST_BYTES}`,
        },
      ],
    });
  });
});

describe('withRequestOverrides', () => {
  const manifestDefaults = {
    coreDeviceThingName: 'core-m',
    templateName: 'thing-with-attributes',
    templateParameters: { Site: 'm', Model: 'm' },
  };

  it("keeps the manifest's fields that no override gives, and its template when none is given", () => {
    expect(withRequestOverrides(manifestDefaults, { coreDeviceThingName: undefined, rollbackOnFailure: false })).toEqual({
      ...manifestDefaults,
      rollbackOnFailure: false,
    });
  });

  it('replaces the template however the manifest named it, and merges template parameters', () => {
    expect(withRequestOverrides(manifestDefaults, { templateBody: '{}', templateParameters: { Site: 'c' } })).toEqual({
      coreDeviceThingName: 'core-m',
      templateBody: '{}',
      templateParameters: { Site: 'c', Model: 'm' },
    });
    expect(withRequestOverrides({ templateBody: '{}' }, { templateName: 'thing-with-attributes' })).toEqual({
      templateName: 'thing-with-attributes',
    });
  });

  it('takes template parameters as given where either side is not an object, for validation to refuse', () => {
    expect(withRequestOverrides({ templateParameters: 'x' }, { templateParameters: { Site: 'c' } })).toEqual({
      templateParameters: { Site: 'c' },
    });
    expect(withRequestOverrides(manifestDefaults, { templateParameters: 'x' })).toMatchObject({ templateParameters: 'x' });
    expect(withRequestOverrides(manifestDefaults, { coreDeviceThingName: { Site: 'c' } })).toEqual({
      ...manifestDefaults,
      coreDeviceThingName: { Site: 'c' },
    });
  });
});

describe('csvManifestRows, further', () => {
  it('reads text given as strings as it reads bytes', async () => {
    const rows = [];
    for await (const row of csvManifestRows(['thingName,param.Site\r', '\nsensor-1,a\n', 'sensor-2,b'])) rows.push(row);
    expect(rows).toEqual(parsed(parseManifest('thingName,param.Site\r\nsensor-1,a\nsensor-2,b', 'csv')).rows);
  });

  it('reads a last character cut short as the text decoder does', async () => {
    const bytes = Buffer.from('thingName\nsensö');
    const cut = bytes.subarray(0, bytes.length - 1);
    const rows = [];
    for await (const row of csvManifestRows([cut])) rows.push(row);
    expect(rows.map((row) => row.device)).toEqual([{ thingName: 'sens\uFFFD' }]);
  });

  it('locates a malformed row thousands of lines in, after blank lines', async () => {
    const rows = Array.from({ length: 3_000 }, (_, index) => `sensor-${index}`);
    const text = `thingName\n${rows.join('\n')}\n\n\n"sensor-x\n`;
    expect(await streamed(text, 64)).toEqual({
      ok: false,
      problems: [{ where: 'line 3004', reason: 'Quote Not Closed: the parsing is finished with an opening quote' }],
    });
  });
});

describe("a device's core device", () => {
  it("is the device's own, else the request's", () => {
    const options = { coreDeviceThingName: 'core-r', thingPrincipalType: 'EXCLUSIVE_THING' as const, rollbackOnFailure: true };
    expect(coreDeviceOf({ thingName: 'a', coreDeviceThingName: 'core-d' }, options)).toBe('core-d');
    expect(coreDeviceOf({ thingName: 'a' }, options)).toBe('core-r');
    expect(coreDeviceOf({ thingName: 'a' }, { ...options, coreDeviceThingName: undefined })).toBeUndefined();
  });
});

describe('ManifestValidator, across rows', () => {
  it('answers no device for a row that repeats an earlier thing name, valid as it is on its own', () => {
    const validator = new ManifestValidator('csv', {}, PROVISIONING);
    validator.check(deviceRow(0));
    expect(validator.check({ ...deviceRow(1), device: { ...(deviceRow(1).device as object), thingName: 'sensor-0' } })).toBeUndefined();
    expect(validator.result()).toMatchObject({
      ok: false,
      problems: [{ where: 'line 3', field: 'thingName', reason: 'duplicates line 2 ("sensor-0")' }],
    });
  });

  it('takes JSON devices without a thing name for missing names, not for duplicates', () => {
    const rows = [0, 1].map((index) => ({
      index,
      line: index + 2,
      device: { principal: certificateArn(index), coreDeviceThingName: 'core-a' },
    }));
    expect(validateManifest({ format: 'json', defaults: {}, rows }, {}, PROVISIONING)).toEqual({
      ok: false,
      problems: [
        { where: 'devices[0] (line 2)', field: 'thingName', reason: 'is required' },
        { where: 'devices[1] (line 3)', field: 'thingName', reason: 'is required' },
      ],
    });
  });

  it('takes devices without a certificate, where the template issues them, for no duplicates of one another', () => {
    const rows = [0, 1].map((index) => ({
      index,
      line: index + 2,
      device: { thingName: `sensor-${index}`, coreDeviceThingName: 'core-a', parameters: { CSR: 'csr' } },
    }));
    expect(
      validateManifest({ format: 'csv', defaults: {}, rows }, { templateName: 'thing-with-certificate-from-csr' }, PROVISIONING),
    ).toMatchObject({
      ok: true,
    });
  });
});
