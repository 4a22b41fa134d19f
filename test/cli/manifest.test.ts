import { describe, expect, it } from 'vitest';
import { manifestFormatOf, parseManifest, type Manifest, type ManifestParse } from '../../cli/manifest.ts';

function parsed(result: ManifestParse): Manifest {
  if (!result.ok) throw new Error(`expected a manifest, got ${JSON.stringify(result.problems)}`);
  return result.manifest;
}

describe('CSV manifests', () => {
  it('maps columns to device fields, param.<Name> to parameters, and leaves empty cells out', () => {
    const manifest = parsed(parseManifest('thingName,principal,coreDeviceThingName,param.Site,param.Model\nsensor-1,,core-a,berlin,\nsensor-2,arn:x,,,m2\n', 'csv'));

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

  it('points at the line of a row with too many cells', () => {
    const result = parseManifest('thingName,principal\nsensor-1,\nsensor-2,a,b\n', 'csv');

    expect(result).toMatchObject({ ok: false, problems: [{ where: 'line 3' }] });
  });

  it('rejects an empty file', () => {
    expect(parseManifest('', 'csv')).toMatchObject({ ok: false, problems: [{ where: 'manifest', reason: expect.stringContaining('is empty') }] });
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
    const text = JSON.stringify({ coreDeviceThingName: 'core-a', templateParameters: { Site: 'x' }, devices: [{ thingName: 'sensor-1' }] }, null, 2);

    const manifest = parsed(parseManifest(text, 'json'));

    expect(manifest.defaults).toEqual({ coreDeviceThingName: 'core-a', templateParameters: { Site: 'x' } });
    expect(manifest.rows).toEqual([{ index: 0, line: 7, device: { thingName: 'sensor-1' } }]);
  });

  it('rejects text that is not JSON, a shape without devices, and a requestId (the CLI sets it)', () => {
    expect(parseManifest('{"devices": [', 'json')).toMatchObject({ ok: false, problems: [{ reason: expect.stringContaining('not valid JSON') }] });
    expect(parseManifest('{"things": []}', 'json')).toMatchObject({ ok: false, problems: [{ reason: expect.stringContaining('"devices" array') }] });
    expect(parseManifest('{"requestId": "r1", "devices": []}', 'json')).toMatchObject({ ok: false, problems: [{ field: 'requestId' }] });
  });
});

describe('manifestFormatOf', () => {
  it('knows .csv and .json in any case, and nothing else', () => {
    expect(['fleet.CSV', 'dir.v2/fleet.json', 'fleet.yaml', 'fleet'].map(manifestFormatOf)).toEqual(['csv', 'json', undefined, undefined]);
  });
});
