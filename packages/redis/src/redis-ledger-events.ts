import type { LedgerState } from '@cycles-guard/core';
import { CyclesError } from '@cycles-guard/core';
import type { Clock } from '@cycles-guard/core/ledger-kit';
import {
  balanceChangeDrafts,
  balanceOfRow,
  type DenialFacts,
  deniedDraft,
  type EventDraft,
  type EventOrigin,
  expiredDraft,
  LedgerEventLog,
  observedAllowedDraft,
  observedDeniedDraft,
  originOf,
  overageDraft,
  type ScopeBalance,
  type ScopeEventState,
  tenantOfScope,
} from '@cycles-guard/core/ledger-kit';
import type {
  CallContext,
  CommitRequest,
  OveragePolicy,
  ReserveRequest,
  Unit,
} from '@cycles-guard/core/protocol';
import type { LedgerEventsOptions } from '@cycles-guard/core/webhooks';
import type { Cluster, Redis } from 'ioredis';
import type { ExpiredHold } from './connection.ts';
import { amount, asList, type RowReply, toState } from './ledger-views.ts';
import { RedisEventStore } from './redis-event-store.ts';
import { decodeRecord } from './reservation-views.ts';

// The Redis ledger's side of core's event pipeline. The scripts answer with each budgeted scope's
// balances after the operation; the balances before are those minus the operation's own change (exact,
// since a script runs atomically), and core's derivation does the rest. Alerts that fire once per
// window are claimed in Redis, so two servers on one Redis never both send one.

const MAX_TRACKED = 100_000;
const ONCE_TYPES = new Set(['budget.threshold_crossed', 'budget.exhausted']);

/** What this instance remembers of a hold it granted (to know a commit's estimate without asking). */
interface Hold {
  estimate: number;
  scopePath: string;
  unit: Unit;
  tenant: string | undefined;
  overagePolicy: OveragePolicy | undefined;
}

const balanceOf = (row: RowReply): ScopeBalance => balanceOfRow(toState(row));

/**
 * The debt a settlement of `charged` against a hold of `estimate` booked on a scope, from its balance
 * after: as core's overage plan books it, the charge beyond the hold (`extra`) takes what the scope had
 * left first and the shortfall becomes debt; remaining drops by `extra` either way.
 */
function debtTaken(after: ScopeBalance, charged: number, estimate: number): number {
  const extra = charged - estimate;
  if (extra <= 0) return 0;
  const remainingBefore = after.remaining + extra;
  return Math.max(0, extra - Math.max(remainingBefore, 0));
}

/** A scope's balance before a settlement (commit, or a direct debit with estimate 0), from the one after. */
function beforeSettling(after: ScopeBalance, charged: number, estimate: number): ScopeBalance {
  const debt = debtTaken(after, charged, estimate);
  return {
    ...after,
    reserved: after.reserved + estimate,
    spent: after.spent - charged + debt,
    remaining: after.remaining + charged - estimate,
    debt: after.debt - debt,
    // The flag's own earlier value is known only to publishChanges (what this instance last saw).
    isOverLimit: after.isOverLimit && !(debt > 0 && after.debt - debt <= after.overdraftLimit),
  };
}

/** A dry run's answer, as the reserve script gave it. */
export interface DryRunAnswer {
  decision: string;
  reason?: string | undefined;
  hold: number;
  /** DENY by a budget: the blocking scope, its remaining and what was asked of it. */
  blockedBy?: string | undefined;
  remaining?: number | undefined;
  requested?: number | undefined;
  /** The budgeted scopes' balances (for the blocking scope's window). */
  bal?: unknown;
}

/** `reservation.observed_denied` or `reservation.observed_allowed`, with the memory ledger's facts. */
function observedDraft(
  request: ReserveRequest,
  tenant: string | undefined,
  scopePath: string,
  answer: DryRunAnswer,
): EventDraft {
  const facts = {
    tenant,
    scope: scopePath,
    unit: request.estimate.unit,
    subject: request.subject,
    action: request.action,
  };
  if (answer.decision !== 'DENY') {
    return observedAllowedDraft({ ...facts, decision: answer.decision as 'ALLOW', estimated: answer.hold });
  }
  const denial: DenialFacts = {
    ...facts,
    reasonCode: answer.reason ?? 'BUDGET_EXCEEDED',
    requested: answer.requested ?? request.estimate.amount,
  };
  if (answer.blockedBy !== undefined) {
    denial.blockedByScope = answer.blockedBy;
    if (answer.remaining !== undefined) denial.remaining = answer.remaining;
    const row = asList<RowReply>(answer.bal)
      .map(balanceOf)
      .find((balance) => balance.scope === answer.blockedBy);
    denial.windowKey = String(row?.periodStartMs ?? 0);
  }
  return observedDeniedDraft(denial);
}

/** A bounded Map: cleared when full (a forgotten entry costs one lookup or a later alert, never money). */
class Bounded<K, V> extends Map<K, V> {
  override set(key: K, value: V): this {
    if (this.size >= MAX_TRACKED && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}

export class RedisLedgerEvents {
  readonly log: LedgerEventLog;
  readonly store: RedisEventStore;
  private readonly states = new Bounded<string, ScopeEventState>();
  private readonly holds = new Bounded<string, Hold>();
  /** Each scope's over-limit flag as this instance last saw it. */
  private readonly overLimit = new Bounded<string, boolean>();
  /** Operations' events waiting for their claims, in operation order (a later event must not overtake). */
  private waiting: { drafts: EventDraft[]; origin: EventOrigin }[] = [];
  private flushing = false;

  constructor(
    client: Redis | Cluster,
    prefix: string,
    options: LedgerEventsOptions,
    clock: Clock | undefined,
  ) {
    this.store = new RedisEventStore(client, prefix);
    this.log = new LedgerEventLog({ store: this.store, ...options }, clock);
  }

  /** A granted live reserve: `bal` holds the scopes after the hold. */
  reserved(
    id: string,
    hold: number,
    request: ReserveRequest,
    tenant: string | undefined,
    scopePath: string,
    bal: unknown,
    context?: CallContext,
  ): void {
    this.holds.set(id, {
      estimate: hold,
      scopePath,
      unit: request.estimate.unit,
      tenant,
      overagePolicy: request.overagePolicy,
    });
    this.log.countGranted(tenant);
    this.changed(
      bal,
      (b) => ({ ...b, reserved: b.reserved - hold, remaining: b.remaining + hold }),
      {},
      [],
      context,
    );
  }

  released(id: string, released: number, bal: unknown, context?: CallContext): void {
    this.holds.delete(id);
    this.changed(
      bal,
      (b) => ({ ...b, reserved: b.reserved + released, remaining: b.remaining - released }),
      {},
      [],
      context,
    );
  }

  /**
   * A commit: `charged` and `released` from the script. The estimate is charged + released when some
   * was released; else this instance's record of the hold (a hold made elsewhere, committed exactly,
   * is charged = estimate). The debt each scope took is not in the reply: it is worked out per scope
   * from its remaining after (`debtTaken`).
   */
  committed(
    id: string,
    request: CommitRequest,
    charged: number,
    released: number | undefined,
    bal: unknown,
    context?: CallContext,
  ): void {
    const hold = this.holds.get(id);
    this.holds.delete(id);
    const estimate = released !== undefined ? charged + released : (hold?.estimate ?? charged);
    const extra: EventDraft[] = [];
    const actual = request.actual.amount;
    if (actual > estimate && hold !== undefined) {
      const rows = asList<RowReply>(bal).map(balanceOf);
      const debt = rows.reduce((most, b) => Math.max(most, debtTaken(b, charged, estimate)), 0);
      const policy = hold.overagePolicy ?? 'ALLOW_IF_AVAILABLE';
      extra.push(
        overageDraft(
          { reservationId: id, tenant: hold.tenant, scope: hold.scopePath, unit: hold.unit, estimate },
          actual,
          policy,
          debt,
        ),
      );
    }
    this.changed(bal, (b) => beforeSettling(b, charged, estimate), { reservationId: id }, extra, context);
  }

  /** Holds a script expired (lazily or in the sweep): one `reservation.expired` each, with its balance events. */
  expired(holds: ExpiredHold[], nowMs: number): void {
    for (const hold of holds) {
      this.holds.delete(hold.id);
      const estimate = amount(hold.estimate);
      const { scopePath } = decodeRecord(hold.record);
      const facts = {
        reservationId: hold.id,
        tenant: hold.tenant === '' ? undefined : hold.tenant,
        scope: scopePath,
        unit: hold.unit as Unit,
        estimate,
        createdAtMs: amount(hold.createdAtMs),
        expiresAtMs: amount(hold.expiresAtMs),
        extensions: amount(hold.extensions),
      };
      this.changed(
        hold.bal,
        (b) => ({ ...b, reserved: b.reserved + estimate, remaining: b.remaining - estimate }),
        { reservationId: hold.id },
        [expiredDraft(facts, nowMs)],
        undefined,
      );
    }
  }

  /** A direct debit (`POST /v1/events`) of `charged`: a settlement of nothing held. */
  debited(charged: number, bal: unknown, context?: CallContext): void {
    this.changed(bal, (b) => beforeSettling(b, charged, 0), {}, [], context);
  }

  /** A live reserve refused with a 409 (or a dry run in observe mode that would have been). */
  denied(
    error: unknown,
    request: ReserveRequest,
    tenant: string | undefined,
    scopePath: string,
    context?: CallContext,
  ): void {
    if (!CyclesError.isInstance(error) || error.status !== 409) return;
    const details = (error.details ?? {}) as Record<string, unknown>;
    const facts = {
      tenant,
      scope: scopePath,
      unit: request.estimate.unit,
      reasonCode: error.code,
      requested: request.estimate.amount,
      subject: request.subject,
      action: request.action,
      ...(typeof details.scope === 'string' ? { blockedByScope: details.scope } : {}),
      ...(typeof details.remaining === 'number' ? { remaining: details.remaining } : {}),
    };
    this.emit([request.observeMode === true ? observedDeniedDraft(facts) : deniedDraft(facts)], context);
  }

  /**
   * A dry run's answer: reported when observed, by the request's choice or the tenant's default (the
   * reserve script reads the tenant's settings and marks its answer observed, `observedByScript`).
   */
  dryRun(
    request: ReserveRequest,
    tenant: string | undefined,
    scopePath: string,
    answer: DryRunAnswer,
    observedByScript: boolean,
    context?: CallContext,
  ): void {
    if (request.observeMode === false) return;
    if (request.observeMode === true || observedByScript) {
      this.emit([observedDraft(request, tenant, scopePath, answer)], context);
    }
  }

  /** Derives the balance events of rows whose state before is `undo(after)`, claims once-alerts, publishes. */
  private changed(
    bal: unknown,
    undo: (after: ScopeBalance) => ScopeBalance,
    cause: { reservationId?: string },
    extra: EventDraft[],
    context: CallContext | undefined,
  ): void {
    const changes = asList<RowReply>(bal).map((row) => {
      const after = balanceOf(row);
      return { key: `${after.scope}|${after.unit}`, before: undo(after), after };
    });
    this.publishChanges(changes, cause, extra, context);
  }

  /**
   * Derives and emits. The over-limit flag before a change is the one this instance last saw (the reply
   * does not say whether the operation set it, e.g. by capping an overrun), else the undo's guess.
   */
  private publishChanges(
    changes: { key: string; before: ScopeBalance; after: ScopeBalance }[],
    cause: { reservationId?: string },
    extra: EventDraft[],
    context: CallContext | undefined,
  ): void {
    for (const { key, before, after } of changes) {
      const seen = this.overLimit.get(key);
      if (seen !== undefined) before.isOverLimit = seen;
      this.overLimit.set(key, after.isOverLimit);
    }
    const drafts = [...extra, ...balanceChangeDrafts(this.log, this.states, changes, cause)];
    if (drafts.length > 0) this.emit(drafts, context);
  }

  /** A funding operation (admin): the ledger's counters before (as the script reported them) and after. */
  funded(
    previous: Pick<ScopeBalance, 'allocated' | 'remaining' | 'debt' | 'spent'>,
    current: LedgerState,
  ): void {
    const after: ScopeBalance = {
      scope: current.scope,
      unit: current.unit,
      allocated: current.allocated,
      remaining: current.remaining,
      reserved: current.reserved,
      spent: current.spent,
      debt: current.debt,
      overdraftLimit: current.overdraftLimit,
      isOverLimit: current.isOverLimit,
    };
    if (current.periodStartMs !== undefined) after.periodStartMs = current.periodStartMs;
    const before = { ...after, ...previous };
    this.publishChanges([{ key: `${after.scope}|${after.unit}`, before, after }], {}, [], undefined);
  }

  private emit(made: EventDraft[], context: CallContext | undefined): void {
    // Rates are counted now, in operation order, at the clock's time of the operation.
    this.waiting.push({ drafts: this.log.withRateSpikes(made), origin: originOf(context) });
    if (!this.flushing) void this.flush();
  }

  /**
   * Publishes the waiting operations' events in operation order, each batch's once-alerts claimed in one
   * round trip. One claim at a time (as before) let events fall ever further behind the ledger under load
   * (10 s behind after 10 s of 50 clients), all lost by a crash and all missed by a subscription removed
   * meanwhile; a batch keeps the wait to about one round trip whatever the load.
   */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting;
        this.waiting = [];
        const once = batch.flatMap(({ drafts }) => drafts.filter((draft) => ONCE_TYPES.has(draft.type)));
        const granted = await this.store
          .claimAll(once.map(onceClaim), 40 * 86_400_000)
          .catch(() => once.map(() => true));
        const refused = new Set(once.filter((_, index) => !granted[index]));
        for (const { drafts, origin } of batch) {
          try {
            this.log.publish(
              refused.size === 0 ? drafts : drafts.filter((draft) => !refused.has(draft)),
              origin,
            );
          } catch {
            // A publication must never stop the ones after it.
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** A once-alert's claim: its tenant, and the alert (window and direction) it must not repeat. */
function onceClaim(draft: EventDraft): { tenant: string; alert: string } {
  const tenant = draft.tenant ?? tenantOfScope(draft.scope ?? '') ?? '__system__';
  const direction = (draft.data?.direction as string | undefined) ?? '';
  return { tenant, alert: `${draft.correlationId}:${direction}` };
}
