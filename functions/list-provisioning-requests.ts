import type { APIGatewayProxyEvent } from 'aws-lambda';
import { triggerHandler } from './lambda/middleware.ts';
import { listRequests } from './api/request-routes.ts';
import { provisioning } from './api/requests.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => listRequests(provisioning, event));
