import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BudgetAuthority } from '../../authority.ts';
import type { CyclesEvent } from '../../events.ts';
import { createFileJournal, journalDirectory } from './file-journal.ts';
import { SettlementOutbox } from './settlement-outbox.ts';
import type { SettlementStore } from './store.ts';

/** Options of the settlement outbox (`CyclesOptions.outbox`). */
export interface OutboxOptions {
  /**
   * `false` turns the outbox off: a settlement that fails after its retries is then only reported
   * (`settle-error`) and its hold expires uncharged.
   * @default true for an authority with an `identity` (Redis, HTTP); the embedded ledger never needs one
   */
  enabled?: boolean;
  /**
   * Root folder of the file journal; each authority identity gets a sub-folder.
   * @default `$CYCLES_OUTBOX_DIR`, else `~/.cycles-guard/outbox`, else `<tmpdir>/cycles-guard-outbox`
   */
  directory?: string;
  /** Names the authority when it has no `identity` of its own (a custom `BudgetAuthority`). */
  identity?: string;
  /** Your own store instead of the file journal (or the authority's own). */
  store?: SettlementStore;
  /**
   * Log a write-ahead intent per granted hold (and a `done` line once it settles), so a process killed
   * before it settles has its hold charged by the next process. One append per tick for all calls.
   * @default true
   */
  intents?: boolean;
  /**
   * First replay delay after a failure; doubles while the authority keeps failing, up to 60 s.
   * @default 1000
   */
  replayIntervalMs?: number;
  /**
   * How long the ledger keeps settled reservations readable; a NOT_FOUND later than this after the
   * first attempt is flagged `possibleDuplicate` (see `SettlementReplayedEvent`).
   * @default 3,600,000 (the memory and Redis ledgers' default)
   */
  reservationRetentionMs?: number;
}

function defaultRoot(): string {
  const fromEnv = process.env.CYCLES_OUTBOX_DIR?.trim();
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  let home = '';
  try {
    home = homedir();
  } catch {
    // no home folder (some serverless sandboxes)
  }
  return home === '' || home === '/'
    ? join(tmpdir(), 'cycles-guard-outbox')
    : join(home, '.cycles-guard', 'outbox');
}

/** The outbox of an instance, or undefined when it has none (embedded ledger, or turned off). */
export function createOutbox(
  authority: BudgetAuthority,
  emit: (event: CyclesEvent) => void,
  options: OutboxOptions = {},
): SettlementOutbox | undefined {
  const identity = options.identity ?? authority.identity;
  if (options.enabled === false || (identity === undefined && options.store === undefined)) return undefined;
  const directory =
    identity === undefined ? undefined : journalDirectory(options.directory ?? defaultRoot(), identity);
  const journal = directory === undefined ? undefined : createFileJournal(directory);
  const own = options.store ?? authority.createSettlementStore?.();
  const store = own ?? journal;
  if (store === undefined) return undefined;
  return new SettlementOutbox(authority, emit, {
    store,
    intents:
      options.intents === false || journal === undefined || directory === undefined
        ? undefined
        : { journal, directory },
    fallback: store === journal ? undefined : journal,
    replayIntervalMs: options.replayIntervalMs ?? 1_000,
    reservationRetentionMs: options.reservationRetentionMs ?? 3_600_000,
  });
}
