import type { Cycles } from '@cycles-guard/core';
import { CyclesModule } from '@cycles-guard/nestjs';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { API_KEYS, ApiKeyGuard, tenantOf } from './api-key.guard.ts';
import { BedrockErrorsFilter } from './bedrock-errors.filter.ts';
import { BEDROCK, type BedrockTarget, ChatController } from './chat.controller.ts';

export interface ChatModuleOptions extends BedrockTarget {
  /** Template budgets (`createTenantBudgets` of `@cycles-guard/example-chat`). */
  cycles: Cycles;
  apiKeys: ReadonlyMap<string, string>;
}

/** The chat API: API-key guard, CyclesModule (budget per tenant), the chat controller, Bedrock errors → 502. */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: Nest modules are classes; register() builds the dynamic module.
export class ChatModule {
  static register({ cycles, client, modelId, apiKeys }: ChatModuleOptions): DynamicModule {
    return {
      module: ChatModule,
      imports: [CyclesModule.forRoot({ cycles, subject: (request) => ({ tenant: tenantOf(request) }) })],
      controllers: [ChatController],
      providers: [
        { provide: API_KEYS, useValue: apiKeys },
        { provide: BEDROCK, useValue: { client, modelId } },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: BedrockErrorsFilter },
      ],
    };
  }
}
