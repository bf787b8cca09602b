import { budgetErrorResponse } from '@cycles-guard/core';
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject } from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { CYCLES_MODULE_OPTIONS, type CyclesModuleOptions } from './cycles.module-definition.ts';

/**
 * Matches (through `instanceof`, which is how `@Catch` selects filters) any cycles-guard error, also one
 * from a duplicate copy of core or wrapped in `cause`. Catching only these leaves every other error to
 * the app's own filters and Nest's default handling.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: @Catch selects filters with instanceof, which needs a class.
abstract class BudgetError {
  static [Symbol.hasInstance](value: unknown): boolean {
    return budgetErrorResponse(value) !== undefined;
  }
}

/**
 * Answers cycles-guard errors like the Express adapter: denials → 429 or 402 (with `Retry-After` when
 * the window reset is known), AuthorityUnavailableError → 503, invalid subjects → 400, other
 * CyclesErrors → their status, with the JSON body of `budgetErrorResponse`.
 */
@Catch(BudgetError)
export class CyclesExceptionFilter implements ExceptionFilter {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(CYCLES_MODULE_OPTIONS) private readonly options: CyclesModuleOptions,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    // Only HTTP answers are mapped; RPC and WebSocket errors keep their transport's handling.
    if (host.getType() !== 'http') throw exception;
    const adapter = this.adapterHost.httpAdapter;
    const response = host.switchToHttp().getResponse<unknown>();
    const mapped = budgetErrorResponse(exception, { deniedStatus: this.options.deniedStatus ?? 429 });
    if (mapped === undefined || adapter.isHeadersSent(response)) {
      // Built lazily: the HTTP adapter is attached after the providers are created (e.g. in tests).
      new BaseExceptionFilter(adapter).catch(exception, host);
      return;
    }
    for (const [name, value] of Object.entries(mapped.headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, mapped.body, mapped.status);
  }
}
