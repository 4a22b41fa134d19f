import type { APIGatewayProxyEvent } from 'aws-lambda';
import { triggerHandler } from './lambda/middleware.ts';
import { getRequest } from './api/request-routes.ts';
import { deprovisioning } from './api/requests.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => getRequest(deprovisioning, event));
