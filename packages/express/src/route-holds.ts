import type { Hold } from '@cycles-guard/core';
import type { Response } from 'express';

/** Per-route holds by response, so the error handler can release them at once. */
export const routeHolds = new WeakMap<Response, Hold>();
