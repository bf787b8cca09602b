export { asyncHandler } from './async-handler.ts';
export { type CyclesErrorHandlerOptions, cyclesErrorHandler } from './cycles-error-handler.ts';
export { type CyclesMiddlewareOptions, cyclesMiddleware } from './cycles-middleware.ts';
export { type CyclesRouteOptions, cyclesRoute } from './cycles-route.ts';
