import type { APIGatewayProxyEvent } from 'aws-lambda';
import { triggerHandler } from './lambda/middleware.ts';
import { cancelRequestRoute } from './api/request-routes.ts';
import { provisioning } from './api/requests.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => cancelRequestRoute(provisioning, event));
