import { getFleetRun } from './api/fleet-run-routes.ts';
import { triggerHandler } from './lambda/middleware.ts';

export const handler = triggerHandler(getFleetRun);
