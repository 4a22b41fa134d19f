import type { APIGatewayProxyEvent } from 'aws-lambda';
import { postRequest } from './api/request-routes.ts';
import { deprovisioning } from './api/requests.ts';
import { triggerHandler } from './lambda/middleware.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => postRequest(deprovisioning, event));
