import { triggerHandler } from './commons/middleware.ts';
import { postFleetRunCancel } from './commons/fleet-run-routes.ts';

export const handler = triggerHandler(postFleetRunCancel);
