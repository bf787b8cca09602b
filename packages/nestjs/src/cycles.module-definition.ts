import type { Cycles, Subject } from '@cycles-guard/core';
import { ConfigurableModuleBuilder } from '@nestjs/common';

/**
 * The HTTP request a subject is read from. The platform's own type (Express `Request`, Fastify
 * `FastifyRequest`, or one with your auth guard's `user`) can annotate the callback's parameter.
 */
export interface CyclesHttpRequest {
  readonly headers: Record<string, string | string[] | undefined>;
}

/** Options of `CyclesModule.forRoot` (and what the `forRootAsync` factory returns). */
export interface CyclesModuleOptions {
  /**
   * The Cycles instance requests use.
   * @default the process default (`getDefaultCycles()`), looked up per request
   */
  cycles?: Cycles;
  /**
   * Who pays for a request (e.g. the tenant behind an API key). Merged under `@CyclesBudget({ subject })`.
   * A result without a valid standard level (e.g. a missing tenant) is answered 400, checked before
   * the decorator's parts are merged, and nothing is reserved.
   * @default no request subject: the instance's default subject and `@CyclesBudget` parts only
   */
  // A method signature, so a callback may annotate its parameter with the platform's request type.
  subject?(request: CyclesHttpRequest): Subject | Promise<Subject>;
  /**
   * Status of budget denials: `429 Too Many Requests` or `402 Payment Required`.
   * @default 429
   */
  deniedStatus?: 429 | 402;
  /**
   * Set `X-Cycles-Budget-Remaining`, `-Scope` and `-Unit` from the balances read before the handler runs.
   * @default true
   */
  budgetHeaders?: boolean;
}

export const {
  ConfigurableModuleClass: CyclesConfigurableModule,
  MODULE_OPTIONS_TOKEN: CYCLES_MODULE_OPTIONS,
  OPTIONS_TYPE: CYCLES_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CYCLES_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<CyclesModuleOptions>({ moduleName: 'Cycles' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
