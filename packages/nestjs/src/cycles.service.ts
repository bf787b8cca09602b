import {
  type Balance,
  type Cycles,
  currentBudget,
  type GuardOptions,
  getDefaultCycles,
  type Hold,
  type Subject,
} from '@cycles-guard/core';
import {
  type LlmCall,
  type LlmCallOptions,
  mergeSubjects,
  readSubjectBalances,
} from '@cycles-guard/core/llm';
import { Inject, Injectable } from '@nestjs/common';
import { CYCLES_MODULE_OPTIONS, type CyclesModuleOptions } from './cycles.module-definition.ts';

/** Balances and manual guards on the current request's Cycles instance. */
@Injectable()
export class CyclesService {
  constructor(@Inject(CYCLES_MODULE_OPTIONS) private readonly options: CyclesModuleOptions) {}

  /** The instance of the current budget context, else the module's, else the process default. */
  get cycles(): Cycles {
    return currentBudget()?.cycles ?? this.options.cycles ?? getDefaultCycles();
  }

  /**
   * Balances of the scopes `subject` spends from (its path and ancestors).
   * @param subject defaults to the current budget context's subject (with the instance's default subject)
   */
  async getBalances(subject?: Subject): Promise<Balance[]> {
    const cycles = this.cycles;
    return readSubjectBalances(
      cycles.authority,
      subject ?? mergeSubjects(cycles.config.subject, currentBudget()?.subject),
    );
  }

  /** Reserve → run `fn` → commit (release on throw), on the current instance. See `Cycles.guard`. */
  guard<T>(options: GuardOptions<T>, fn: (hold: Hold) => Promise<T> | T): Promise<T> {
    return this.cycles.guard(options, fn);
  }

  /** Prices, reserves and caps one LLM call on the current instance. See `Cycles.beginLlmCall`. */
  beginLlmCall(options: LlmCallOptions): Promise<LlmCall> {
    return this.cycles.beginLlmCall(options);
  }
}
