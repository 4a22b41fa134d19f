import { fileURLToPath } from 'node:url';

/** The fixture `serverless.yml` for the local runtime's tests (not the product's). */
export const FIXTURE_SERVERLESS_PATH = fileURLToPath(new URL('../fixtures/serverless-app/serverless.yml', import.meta.url));
