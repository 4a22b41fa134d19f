import { triggerHandler } from './lambda/middleware.ts';
import { postFleetRun } from './api/fleet-run-routes.ts';

export const handler = triggerHandler(postFleetRun);
