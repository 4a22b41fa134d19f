import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildEventsDocument, buildOpenApiDocument, renderEvents, renderOpenApi } from '../../../scripts/openapi.ts';

describe('docs/openapi.yaml', () => {
  it('is what the request schemas generate (run `npm run openapi` after changing them)', () => {
    const committed = readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(renderOpenApi());
  });

  it('refers only to schemas it defines', () => {
    const document = buildOpenApiDocument();
    const referred = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]);
    expect(referred.length).toBeGreaterThan(0);
    expect(referred.filter((name) => !(name! in document.components.schemas))).toEqual([]);
  });
});

describe('docs/events.yaml', () => {
  it('is what the completion event schema generates (run `npm run openapi` after changing it)', () => {
    const committed = readFileSync(new URL('../../../docs/events.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(renderEvents());
  });

  it('describes both request completion events around one detail schema, and the fleet run completion event around its own', () => {
    const schemas: Record<string, { required?: string[]; properties?: { detail?: { $ref?: string } } }> = buildEventsDocument().components.schemas;
    expect(Object.keys(schemas).sort()).toEqual([
      'DeprovisioningRequestCompleted',
      'FleetReportFiles',
      'FleetRunCompleted',
      'FleetRunCompletedDetail',
      'FleetRunError',
      'FleetTotals',
      'ProvisioningRequestCompleted',
      'RequestCompleted',
    ]);
    expect(schemas.RequestCompleted?.required).toEqual(expect.arrayContaining(['requestId', 'status', 'counts', 'executionArn', 'failedThingNames']));
    expect(schemas.FleetRunCompleted?.properties?.detail?.$ref).toBe('#/components/schemas/FleetRunCompletedDetail');
    expect(schemas.FleetRunCompletedDetail?.required).toEqual(['fleetRunId', 'action', 'outcome', 'completedAt']);
  });

  it('refers only to schemas it defines', () => {
    const document = buildEventsDocument();
    const referred = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]);
    expect(referred.filter((name) => !(name! in document.components.schemas))).toEqual([]);
  });
});
