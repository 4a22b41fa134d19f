import type { APIGatewayProxyEvent } from 'aws-lambda';
import { triggerHandler } from './commons/middleware.ts';
import { listRequests } from './commons/request-routes.ts';
import { provisioning } from './commons/requests.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => listRequests(provisioning, event));
