import { triggerHandler } from './lambda/middleware.ts';
import { postFleetUpload } from './api/fleet-run-routes.ts';

export const handler = triggerHandler(postFleetUpload);
