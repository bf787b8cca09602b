import { randomUUID } from 'node:crypto';
import type { BudgetAuthority } from '../../authority.ts';
import type { CyclesEvent } from '../../events.ts';
import { CyclesError } from '../../protocol/errors.ts';
import type { OutboxEntry } from './entry.ts';
import { adoptIntents, IntentLog } from './intent-log.ts';
import { replayEntry } from './replay.ts';
import type { SettlementStore } from './store.ts';

// Keeps the settlements the authority could not confirm and replays them until it confirms or
// refuses them for good. Touched on the hot path only to write and remove a hold's intent (when
// intents are on); everything else runs when a settlement failed, at start-up and on an unref'd timer.

/** This process's incarnation: an intent owned by another pid, or by this pid in an earlier life, is orphaned. */
const BOOT = `${process.pid}:${randomUUID()}`;
/** An intent older than this is replayed whoever owns it (its hold cannot be alive any more). */
const INTENT_MAX_AGE_MS = 26 * 3_600_000;
const MAX_BACKOFF_MS = 60_000;
/** Between passes while nothing is pending. */
const IDLE_PASS_MS = 60_000;

/** The settled options of the outbox (see `CyclesOptions.outbox`). */
export interface OutboxSettings {
  /** Where failed settlements go. */
  store: SettlementStore;
  /** The local file journal (and its folder) intents are logged beside; undefined: no intents. */
  intents: { journal: SettlementStore; directory: string } | undefined;
  /** Where a failed settlement goes when `store` cannot take it (the file journal under a Redis store). */
  fallback: SettlementStore | undefined;
  /** First replay delay after a failure; doubles while the authority keeps failing (to 60 s). */
  replayIntervalMs: number;
  /** How long the ledger keeps settled reservations (see `SettlementReplayedEvent.possibleDuplicate`). */
  reservationRetentionMs: number;
}

/** What `flushSettlements` reports. */
export interface FlushResult {
  /** Entries still waiting (the authority did not confirm them in time). */
  pending: number;
}

export class SettlementOutbox {
  readonly #authority: BudgetAuthority;
  readonly #emit: (event: CyclesEvent) => void;
  readonly #settings: OutboxSettings;
  /** Settlements in progress and intent writes/removals, awaited by `flush`. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** This process's intent log (when intents are on). */
  readonly #intents: IntentLog | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delayMs: number;
  #pass: Promise<number> | undefined;
  #closed = false;

  constructor(authority: BudgetAuthority, emit: (event: CyclesEvent) => void, settings: OutboxSettings) {
    this.#authority = authority;
    this.#emit = emit;
    this.#settings = settings;
    this.#delayMs = settings.replayIntervalMs;
    this.#intents =
      settings.intents === undefined ? undefined : new IntentLog(settings.intents.directory, BOOT);
    // Start-up replay: whatever an earlier process left behind.
    this.#schedule(0);
  }

  /** True when each granted hold writes a write-ahead intent. */
  get intents(): boolean {
    return this.#intents !== undefined;
  }

  /** Logs the intent of a granted hold in the background (a crash before it settles charges the hold). */
  writeIntent(entry: OutboxEntry): void {
    this.#intents?.add({ ...entry, owner: BOOT });
  }

  /** The hold of `key` settled (or failed for good): its intent is done. */
  settled(key: string): void {
    this.#intents?.done(key);
  }

  /** Counts a settlement in progress, so `flush` waits for it. */
  track<T>(settlement: Promise<T>): Promise<T> {
    this.#track(settlement);
    return settlement;
  }

  /**
   * Writes a settlement that failed transiently after its retries, durably, before it is given up.
   * Throws when no store could take it (the caller rethrows the settlement's own error).
   */
  async queue(entry: OutboxEntry, error: unknown): Promise<void> {
    const { store, fallback } = this.#settings;
    let used = store;
    try {
      await store.put(entry, true);
    } catch (storeError) {
      if (fallback === undefined) throw storeError;
      used = fallback;
      await fallback.put(entry, true);
    }
    // The queued entry supersedes the intent (written first: a crash in between leaves both, and
    // the replay prefers the queued one).
    this.#intents?.done(entry.key);
    this.#emit({
      type: 'settlement-queued',
      timeMs: Date.now(),
      ...eventFields(entry),
      code: CyclesError.isInstance(error) ? error.code : 'UNKNOWN',
      message: error instanceof Error ? error.message : String(error),
      store: used.name,
    });
    this.#delayMs = this.#settings.replayIntervalMs;
    this.#schedule(this.#delayMs);
  }

  /**
   * Waits for settlements in progress, then replays the outbox until it is empty or `timeoutMs` has
   * passed. For serverless handlers (before the runtime freezes) and graceful shutdown.
   */
  async flush(timeoutMs: number): Promise<FlushResult> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    await within(Promise.allSettled([...this.#inFlight]), left());
    await within(this.#intents?.flushed() ?? Promise.resolve(), left());
    let pending = await within(this.#freshReplay(), left());
    while (pending !== undefined && pending > 0 && left() > 0) {
      await sleep(Math.min(200, left()));
      pending = await within(this.#freshReplay(), left());
    }
    return { pending: pending ?? (await this.#countPending()) };
  }

  /** Stops the timer and closes the intent log (entries stay in the store for the next process). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#intents?.close().catch(() => {});
  }

  #track(promise: Promise<unknown>): void {
    const done: Promise<unknown> = promise.then(
      () => this.#inFlight.delete(done),
      () => this.#inFlight.delete(done),
    );
    this.#inFlight.add(done);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const backOff = () => {
        this.#delayMs = Math.min(MAX_BACKOFF_MS, this.#delayMs * 2);
        this.#schedule(this.#delayMs);
      };
      this.#replay().then((pending) => {
        if (pending > 0) backOff();
        else {
          // Idle: look again now and then for what another process on this journal left behind.
          this.#delayMs = this.#settings.replayIntervalMs;
          this.#schedule(IDLE_PASS_MS);
        }
      }, backOff);
    }, delayMs);
    this.#timer.unref?.();
  }

  /**
   * A pass that reads the store after this call: a timer's pass already running read its entries before
   * what was queued since, so answering with its count would report a queued settlement as flushed.
   */
  async #freshReplay(): Promise<number> {
    await this.#pass?.catch(() => {});
    return this.#replay();
  }

  /** One replay pass (one at a time); answers how many entries are still pending. */
  #replay(): Promise<number> {
    this.#pass ??= this.#replayOnce().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  async #replayOnce(): Promise<number> {
    let pending = 0;
    for (const [stores, entry] of await this.#entries()) {
      const now = Date.now();
      const outcome = await replayEntry(this.#authority, entry, this.#settings.reservationRetentionMs, now);
      if (outcome.result === 'pending') {
        pending++;
        continue;
      }
      for (const store of stores) await store.remove(entry.key).catch(() => {});
      if (outcome.result === 'confirmed') {
        this.#emit({
          type: 'settlement-replayed',
          timeMs: now,
          ...eventFields(entry),
          charged: outcome.charged,
          viaEvent: outcome.viaEvent,
          fromIntent: entry.state === 'intent',
          possibleDuplicate: outcome.possibleDuplicate,
          ageMs: now - entry.firstAttemptAtMs,
        });
      } else {
        const { error } = outcome;
        this.#emit({
          type: 'settlement-dropped',
          timeMs: now,
          ...eventFields(entry),
          code: CyclesError.isInstance(error) ? error.code : 'UNKNOWN',
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return pending;
  }

  /**
   * Replayable entries of every store: queued ones, and intents whose process is gone. An entry in two
   * stores (a Redis write that timed out, then ran, beside its journal copy) is replayed once.
   */
  async #entries(): Promise<[SettlementStore[], OutboxEntry][]> {
    const { intents } = this.#settings;
    if (intents !== undefined) {
      // Intents of processes that are gone become journal entries first.
      await adoptIntents(
        intents.directory,
        (owner) => ownerGone(owner, 0),
        (entry) => intents.journal.put(entry, true),
      ).catch(() => {});
    }
    const stores = new Set([this.#settings.store, this.#settings.fallback, intents?.journal]);
    const found = new Map<string, [SettlementStore[], OutboxEntry]>();
    const now = Date.now();
    for (const store of stores) {
      if (store === undefined) continue;
      let entries: OutboxEntry[];
      try {
        entries = await store.list();
      } catch {
        continue; // e.g. Redis down: the next pass tries again
      }
      for (const entry of entries) {
        if (entry.state !== 'queued' && !orphaned(entry, now)) continue;
        const seen = found.get(entry.key);
        // A queued entry wins over an intent of the same hold (it knows the real usage).
        if (seen === undefined) found.set(entry.key, [[store], entry]);
        else {
          seen[0].push(store);
          if (seen[1].state === 'intent' && entry.state === 'queued') seen[1] = entry;
        }
      }
    }
    return [...found.values()];
  }

  async #countPending(): Promise<number> {
    return (await this.#entries()).length;
  }
}

/** True for an intent left by a process that is gone (or too old to belong to a live hold). */
function orphaned(entry: OutboxEntry, now: number): boolean {
  return ownerGone(entry.owner ?? '', now - entry.firstAttemptAtMs);
}

/**
 * True when the `<pid>:<boot id>` owner on this host is no longer running (or `ageMs` is past any live
 * hold). An empty owner is an adopted intent, whose owner is known to be gone.
 */
function ownerGone(owner: string, ageMs: number): boolean {
  if (owner === BOOT) return false;
  if (ageMs > INTENT_MAX_AGE_MS) return true;
  const pid = Number(owner.split(':')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return true; // this pid, earlier life
  try {
    process.kill(pid, 0);
    return false; // alive (another process sharing the journal settles its own holds)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

function eventFields(entry: OutboxEntry) {
  return {
    subject: entry.subject,
    action: entry.action,
    unit: entry.unit,
    reservationId: entry.reservationId,
    operation: entry.operation,
    amount: entry.amount,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s value, or undefined once `ms` passed first. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
