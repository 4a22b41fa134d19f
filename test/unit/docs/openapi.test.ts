import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Loaded afresh by each test: Stryker credits the schemas' module-level code (their descriptions, defaults and
// bounds) to the tests that load them, so that `npm run mutation` runs a mutant of them against these comparisons.
beforeEach(() => vi.resetModules());
const openapi = () => import('../../../scripts/openapi.ts');

describe('docs/openapi.yaml', () => {
  it('is what the request schemas generate (run `npm run openapi` after changing them)', async () => {
    const { renderOpenApi } = await openapi();
    const committed = readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(renderOpenApi());
  });

  it('refers only to schemas it defines', async () => {
    const document = (await openapi()).buildOpenApiDocument();
    const referred = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]);
    expect(referred.length).toBeGreaterThan(0);
    expect(referred.filter((name) => !(name! in document.components.schemas))).toEqual([]);
  });
});

describe('docs/events.yaml', () => {
  it('is what the completion event schema generates (run `npm run openapi` after changing it)', async () => {
    const { renderEvents } = await openapi();
    const committed = readFileSync(new URL('../../../docs/events.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(renderEvents());
  });

  it('describes both request completion events around one detail schema, and the fleet run completion event around its own', async () => {
    const schemas: Record<string, { required?: string[]; properties?: { detail?: { $ref?: string } } }> = (
      await openapi()
    ).buildEventsDocument().components.schemas;
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
    expect(schemas.RequestCompleted?.required).toEqual(
      expect.arrayContaining(['requestId', 'status', 'counts', 'executionArn', 'failedThingNames']),
    );
    expect(schemas.FleetRunCompleted?.properties?.detail?.$ref).toBe('#/components/schemas/FleetRunCompletedDetail');
    expect(schemas.FleetRunCompletedDetail?.required).toEqual(['fleetRunId', 'action', 'outcome', 'completedAt']);
  });

  it('refers only to schemas it defines', async () => {
    const document = (await openapi()).buildEventsDocument();
    const referred = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]);
    expect(referred.filter((name) => !(name! in document.components.schemas))).toEqual([]);
  });
});
