import { triggerHandler } from './commons/middleware.ts';
import { postFleetRun } from './commons/fleet-run-routes.ts';

export const handler = triggerHandler(postFleetRun);
