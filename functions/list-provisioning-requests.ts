import type { APIGatewayProxyEvent } from 'aws-lambda';
import { listRequests } from './api/request-routes.ts';
import { provisioning } from './api/requests.ts';
import { triggerHandler } from './lambda/middleware.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => listRequests(provisioning, event));
