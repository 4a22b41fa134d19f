import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderOpenApi } from '../../scripts/openapi.ts';

describe('docs/openapi.yaml', () => {
  it('is what the request schemas generate (run `npm run openapi` after changing them)', () => {
    const committed = readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(renderOpenApi());
  });
});
