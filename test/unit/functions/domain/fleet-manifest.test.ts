import { describe, expect, it } from 'vitest';
import {
  csvManifestRows,
  type Manifest,
  type ManifestParse,
  ManifestUnreadable,
  manifestFormatOf,
  parseManifest,
} from '../../../../functions/domain/fleet-manifest.ts';

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
        { where: 'line 1', reason: expect.stringContaining('unknown column "name"') },
        { where: 'line 1', reason: 'names the column "principal" twice' },
        { where: 'line 1', reason: expect.stringContaining('unknown column "param."') },
      ],
    });
  });

  it('reads on past a row with the wrong number of cells, marking each such row for validation to report', () => {
    const manifest = parsed(
      parseManifest('thingName,principal,coreDeviceThingName\nbad name,x,demo-core\nshort-row,x\nok,x,demo-core,extra\n', 'csv'),
    );

    expect(manifest.rows.map(({ line, problem }) => ({ line, problem }))).toEqual([
      { line: 2, problem: undefined },
      { line: 3, problem: 'has 2 cells; the header has 3 columns' },
      { line: 4, problem: 'has 4 cells; the header has 3 columns' },
    ]);
  });

  it('points a quote that is never closed at the line where its row starts, and names that line once', () => {
    const result = parseManifest('thingName,param.Note\r\nsensor-1,a\r\n\r\nsensor-2,"open\r\nsensor-3,b\r\nsensor-4,c\r\n', 'csv');

    expect(result).toEqual({
      ok: false,
      problems: [{ where: 'line 4', reason: 'Quote Not Closed: the parsing is finished with an opening quote' }],
    });
  });

  it('points any other malformed row at the line where it starts, without a second line number', () => {
    const result = parseManifest('thingName,param.Note\nsensor-1,"two\nlines"x\n', 'csv');

    expect(result).toEqual({
      ok: false,
      problems: [{ where: 'line 2', reason: expect.stringMatching(/^Invalid Closing Quote: got "x" instead of delimiter/) }],
    });
  });

  it('rejects an empty file', () => {
    expect(parseManifest('', 'csv')).toMatchObject({
      ok: false,
      problems: [{ where: 'manifest', reason: expect.stringContaining('is empty') }],
    });
  });
});

describe('JSON manifests', () => {
  it('takes an array as the device list, each device with the line where it starts', () => {
    const text = '[\n  {"thingName": "sensor-1"},\n  {\n    "thingName": "sensor-2"\n  }\n]';

    const manifest = parsed(parseManifest(text, 'json'));

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

  it('rejects text that is not JSON and a shape without devices', () => {
    expect(parseManifest('{"devices": [', 'json')).toMatchObject({
      ok: false,
      problems: [{ reason: expect.stringContaining('not valid JSON') }],
    });
    expect(parseManifest('{"things": []}', 'json')).toMatchObject({
      ok: false,
      problems: [{ reason: expect.stringContaining('"devices" array') }],
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
    nothing: '',
  };

  it.each(Object.entries(texts))('reads %s as parseManifest does, however the bytes are cut', async (_, text) => {
    const whole = parseManifest(text, 'csv');
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) expect(await streamed(text, size)).toEqual(whole);
  });
});
