import { Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { CyclesExceptionFilter } from './cycles.filter.ts';
import { CyclesInterceptor } from './cycles.interceptor.ts';
import { CyclesConfigurableModule } from './cycles.module-definition.ts';
import { CyclesService } from './cycles.service.ts';

/**
 * `CyclesModule.forRoot(options)` / `forRootAsync({ useFactory, inject, imports })`: a global module that
 * registers `CyclesInterceptor` (APP_INTERCEPTOR), `CyclesExceptionFilter` (APP_FILTER) and exports
 * `CyclesService`. Pass `isGlobal: false` to scope the service to importing modules.
 */
@Module({
  providers: [
    CyclesService,
    { provide: APP_INTERCEPTOR, useClass: CyclesInterceptor },
    { provide: APP_FILTER, useClass: CyclesExceptionFilter },
  ],
  exports: [CyclesService],
})
export class CyclesModule extends CyclesConfigurableModule {}
