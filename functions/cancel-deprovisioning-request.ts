import type { APIGatewayProxyEvent } from 'aws-lambda';
import { cancelRequestRoute } from './api/request-routes.ts';
import { deprovisioning } from './api/requests.ts';
import { triggerHandler } from './lambda/middleware.ts';

export const handler = triggerHandler((event: APIGatewayProxyEvent) => cancelRequestRoute(deprovisioning, event));
