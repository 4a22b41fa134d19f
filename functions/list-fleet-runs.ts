import { triggerHandler } from './lambda/middleware.ts';
import { getFleetRuns } from './api/fleet-run-routes.ts';

export const handler = triggerHandler(getFleetRuns);
