import type { BudgetAuthority } from '../authority.ts';
import type { Clock } from '../clock.ts';
import type { ResolvedCyclesConfig } from '../config.ts';
import type { CyclesEvent } from '../events.ts';
import type { SettlementOutbox } from './outbox/settlement-outbox.ts';

/** What the lifecycle helpers need from a Cycles instance (internal). */
export interface Runtime {
  authority: BudgetAuthority;
  config: ResolvedCyclesConfig;
  clock: Clock;
  /** Emits an event; never throws. */
  emit(event: CyclesEvent): void;
  /** False when nobody receives events: per-call events (decision, commit, release) are not built. */
  readonly listening: boolean;
  /** Keeps settlements the authority could not confirm (none for the embedded ledger). */
  outbox?: SettlementOutbox | undefined;
}
