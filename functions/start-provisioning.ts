import type { APIGatewayProxyEvent } from 'aws-lambda';
import { postRequest } from './api/request-routes.ts';
import { provisioning } from './api/requests.ts';
import { triggerHandler } from './lambda/middleware.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => postRequest(provisioning, event));
