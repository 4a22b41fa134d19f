import { triggerHandler } from './commons/middleware.ts';
import { getFleetRun } from './commons/fleet-run-routes.ts';

export const handler = triggerHandler(getFleetRun);
