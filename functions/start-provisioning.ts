import type { APIGatewayProxyEvent } from 'aws-lambda';
import { triggerHandler } from './lambda/middleware.ts';
import { postRequest } from './api/request-routes.ts';
import { provisioning } from './api/requests.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => postRequest(provisioning, event));
