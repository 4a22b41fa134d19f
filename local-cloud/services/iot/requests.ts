import { type Page, paginate } from '../../wire/pagination.ts';
import { requireJsonObject } from '../../wire/request-body.ts';
import { describeViolations, requireValid as requireValidInput, type StructureShape } from '../../wire/validation.ts';
import { iotError } from './errors.ts';

/** AWS documents 25 as the default page size of ListCertificates; the other registry lists are assumed alike. */
export const DEFAULT_PAGE_SIZE = 25;

export function requireValid(input: Record<string, unknown>, shape: StructureShape): Record<string, unknown> {
  return requireValidInput(input, shape, (violations) => iotError('InvalidRequestException', describeViolations(violations)));
}

export function parseBody(body: Buffer): Record<string, unknown> {
  return requireJsonObject(body, () => iotError('InvalidRequestException', 'The request body is not a valid JSON object.'));
}

export const invalidToken = () => iotError('InvalidRequestException', 'The nextToken is not valid');

type Pageable<V> = Parameters<typeof paginate<V>>[0];

/** A page of one of the older list calls, which take `marker`/`pageSize` and answer `nextMarker`. */
export function markerPage<V>(
  source: Pageable<V>,
  request: { marker?: string; pageSize?: number },
  accept?: (value: V) => boolean,
): { items: V[]; nextMarker?: string } {
  const page: Page<V> = paginate(
    source,
    {
      ...(request.marker !== undefined && { nextToken: request.marker }),
      ...(request.pageSize !== undefined && { maxResults: request.pageSize }),
    },
    DEFAULT_PAGE_SIZE,
    () => iotError('InvalidRequestException', 'The marker is not valid'),
    accept,
  );
  return page.nextToken === undefined ? { items: page.items } : { items: page.items, nextMarker: page.nextToken };
}
