import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';

/** API key → tenant, provided by `ChatModule.register`. */
export const API_KEYS = Symbol('API_KEYS');

const tenants = new WeakMap<object, string>();

/** The tenant `ApiKeyGuard` found for this request (Nest's platform request object). */
export function tenantOf(request: unknown): string | undefined {
  return typeof request === 'object' && request !== null ? tenants.get(request) : undefined;
}

/**
 * Maps the `x-api-key` header to a tenant; an unknown or missing key is answered 401. Guards run before
 * interceptors, so no budget is touched for such requests.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(API_KEYS) private readonly apiKeys: ReadonlyMap<string, string>) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const key = request.headers['x-api-key'];
    const tenant = typeof key === 'string' ? this.apiKeys.get(key) : undefined;
    if (tenant === undefined) {
      throw new UnauthorizedException({
        error: 'UNAUTHORIZED',
        message: 'Send a known API key in the x-api-key header.',
      });
    }
    tenants.set(request, tenant);
    return true;
  }
}
