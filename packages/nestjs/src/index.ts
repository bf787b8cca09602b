export { Cycles, CyclesBudget, type CyclesDecoratorOptions } from './cycles.decorator.ts';
export { CyclesExceptionFilter } from './cycles.filter.ts';
export { CyclesInterceptor } from './cycles.interceptor.ts';
export { CyclesModule } from './cycles.module.ts';
export {
  CYCLES_ASYNC_OPTIONS_TYPE,
  CYCLES_MODULE_OPTIONS,
  CYCLES_OPTIONS_TYPE,
  type CyclesHttpRequest,
  type CyclesModuleOptions,
} from './cycles.module-definition.ts';
export { CyclesService } from './cycles.service.ts';
