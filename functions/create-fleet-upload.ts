import { triggerHandler } from './commons/middleware.ts';
import { postFleetUpload } from './commons/fleet-run-routes.ts';

export const handler = triggerHandler(postFleetUpload);
