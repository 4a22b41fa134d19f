import { triggerHandler } from './lambda/middleware.ts';
import { postFleetRunCancel } from './api/fleet-run-routes.ts';

export const handler = triggerHandler(postFleetRunCancel);
