import { budgetErrorResponse } from '@cycles-guard/core';
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject } from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { CYCLES_MODULE_OPTIONS, type CyclesModuleOptions } from './cycles.module-definition.ts';

/**
 * Answers cycles-guard errors like the Express adapter: denials → 429 or 402 (with `Retry-After` when
 * the window reset is known), AuthorityUnavailableError → 503, invalid subjects → 400, other
 * CyclesErrors → their status, with the JSON body of `budgetErrorResponse`. Other errors go to Nest's
 * default handling (BaseExceptionFilter).
 */
@Catch()
export class CyclesExceptionFilter implements ExceptionFilter {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(CYCLES_MODULE_OPTIONS) private readonly options: CyclesModuleOptions,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter;
    const mapped =
      host.getType() === 'http'
        ? budgetErrorResponse(exception, { deniedStatus: this.options.deniedStatus ?? 429 })
        : undefined;
    const response = host.switchToHttp().getResponse<unknown>();
    if (mapped === undefined || adapter.isHeadersSent(response)) {
      // Built lazily: the HTTP adapter is attached after the providers are created (e.g. in tests).
      new BaseExceptionFilter(adapter).catch(exception, host);
      return;
    }
    for (const [name, value] of Object.entries(mapped.headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, mapped.body, mapped.status);
  }
}
