import type { OutboxEntry } from './entry.ts';

/**
 * Where outbox entries live: the file journal by default, Redis when the ledger is Redis, or your own.
 * Every method may throw (the caller keeps the settlement's original error then).
 */
export interface SettlementStore {
  /** Names the store in messages (e.g. its directory); never a secret. */
  readonly name: string;
  /**
   * Writes `entry` atomically, replacing any entry with its key. `durable` asks for it to survive a
   * power loss too (fsync), not only a process crash: set for failed settlements, not for intents.
   */
  put(entry: OutboxEntry, durable: boolean): Promise<void>;
  /** Removes the entry of `key` (no error if there is none). */
  remove(key: string): Promise<void>;
  /** Every stored entry. Corrupt ones are moved aside (quarantined, never deleted) and left out. */
  list(): Promise<OutboxEntry[]>;
}
