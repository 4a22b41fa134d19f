import type { APIGatewayProxyEvent } from 'aws-lambda';
import { getRequest } from './api/request-routes.ts';
import { deprovisioning } from './api/requests.ts';
import { triggerHandler } from './lambda/middleware.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => getRequest(deprovisioning, event));
