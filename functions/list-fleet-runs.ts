import { triggerHandler } from './commons/middleware.ts';
import { getFleetRuns } from './commons/fleet-run-routes.ts';

export const handler = triggerHandler(getFleetRuns);
