import { triggerHandler } from './lambda/middleware.ts';
import { getFleetRun } from './api/fleet-run-routes.ts';

export const handler = triggerHandler(getFleetRun);
