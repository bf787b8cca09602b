import type { Clock } from '../clock.ts';
import type { LedgerEventsOptions } from './events/event-log.ts';
import type { LedgerDefinition, LedgerTemplate, TenantSettings } from './types.ts';

/** Options of `createMemoryLedger` (memory-ledger.ts). */
export interface MemoryLedgerOptions {
  /** Source of "now" (default: the system clock). Pass a ManualClock in tests. */
  clock?: Clock;
  ledgers?: LedgerDefinition[];
  /** **Extension.** Ledgers created on first use for matching scopes. */
  templates?: LedgerTemplate[];
  /** Tenant settings by tenant id (status, defaults for TTL, extensions and overage policy). */
  tenants?: Record<string, TenantSettings>;
  /** How often expired reservations are swept (default 5000; 0 disables; the timer is unref'd). */
  sweepIntervalMs?: number;
  /**
   * How long reserve, dry_run, decide and funding idempotency records are kept (default 24 h, as Ref).
   * A live reservation's key is kept at least until it ends, and for its TTL + grace.
   */
  idempotencyRetentionMs?: number;
  /**
   * How long event idempotency records are kept (default 7 days, as Ref): a replayed event past this
   * window is applied again, so it must outlive any client's retry horizon.
   */
  eventIdempotencyRetentionMs?: number;
  /**
   * Most idempotency records one tenant keeps (default 100,000; every tenant has its own, so no tenant's
   * traffic can drop another's). Reaching it drops the tenant's own oldest 1/64 in one batch: decide,
   * dry_run and settled reserve records first, then events and funding older than
   * `eventReplayWindowMs`; when only younger event records are left, the tenant's new events are
   * refused with LIMIT_EXCEEDED (429) instead. A live reservation's key is never dropped.
   */
  maxIdempotencyRecordsPerTenant?: number;
  /**
   * An event's idempotency record is never dropped by the cap before this age (default 1 h): a
   * retried event inside it is replayed, never applied twice.
   */
  eventReplayWindowMs?: number;
  /**
   * Put a post-write balance snapshot of every budgeted scope on live reserve, commit, release, extend
   * and event responses, replayed verbatim with the response (Ref always sends one). Default false: the
   * spec makes `balances` optional on all of them (extend: "nice-to-have"), and a snapshot costs about 20
   * allocations per response on the hot path. dry_run responses always carry one; getBalances reads any time.
   */
  includeBalances?: boolean;
  /**
   * How long finalized or expired reservations stay readable, and their commit or release replayable
   * (default 1 h).
   */
  reservationRetentionMs?: number;
  /**
   * Most reservations one tenant may hold, live and finished-but-retained together (default 50,000; a
   * tenant's own `maxReservations` setting overrides it). Each tenant has its own: at the bound, the
   * tenant's own oldest finished reservations past `reservationReplayWindowMs` are forgotten first; when
   * none is that old, its new reserves are refused with LIMIT_EXCEEDED (429, Retry-After). No tenant's
   * traffic ever forgets another tenant's reservations.
   */
  maxReservationsPerTenant?: number;
  /**
   * A finished reservation is kept at least this long, even at its tenant's bound (default 1 min): the
   * window in which a retried commit or release is guaranteed its replay. It covers the guard's own
   * retries (about 2 s) many times over; at the default bound a tenant is refused only past 50,000
   * finished reservations a minute. Below the bound they are kept for `reservationRetentionMs`.
   */
  reservationReplayWindowMs?: number;
  // ---- template bounds (template-census.ts) ----
  /**
   * Most live template ledgers in all (default 50,000: about 30 MB, see the README). A subject needing
   * one more is refused with INVALID_REQUEST; one whose window is over, holding and owing nothing, is
   * dropped and no longer counts. Ledgers inside a live window are never evicted to make room.
   */
  maxTemplateLedgers?: number;
  /**
   * Most live template ledgers one tenant may hold (default 1,000; a tenant's `maxTemplateLedgers` setting
   * overrides it). Counted against the subject's tenant, else the caller's.
   */
  maxTemplateLedgersPerTenant?: number;
  /**
   * Protocol events (GOV `Event`): thresholds crossed (80 %, 95 % by default), exhausted, over limit,
   * debt, window reset, denials, expiry, overage, observe mode. Kept in memory (10,000 per tenant, 7
   * days) and listed with `ledger.events.list()`; `onEvent` gets each one (e.g. `createWebhookSink`).
   * `false` turns them off.
   */
  events?: LedgerEventsOptions | false;
}
