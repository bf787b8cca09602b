import { CyclesError } from '@cycles-guard/core';
import type { Clock } from '@cycles-guard/core/ledger-kit';
import {
  balanceChangeDrafts,
  balanceOfRow,
  deniedDraft,
  type EventDraft,
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
import { asList, type RowReply, toState } from './ledger-views.ts';
import { RedisEventStore } from './redis-event-store.ts';

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
  /** Publications in operation order (an alert's claim must not let a later event overtake it). */
  private tail: Promise<void> = Promise.resolve();

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
    this.log.countReserve(tenant, false);
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
   * is charged = estimate). On an overage the debt each scope took is not in the reply: it is taken as
   * the overage beyond what the scope had left, exact for one budgeted scope.
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
    const overrun = Math.max(0, charged - estimate);
    const debtOf = (b: ScopeBalance) => Math.min(b.debt, overrun);
    if (actual > estimate && hold !== undefined) {
      const rows = asList<RowReply>(bal).map(balanceOf);
      const debt = rows.reduce((most, b) => Math.max(most, debtOf(b)), 0);
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
    this.changed(
      bal,
      (b) => {
        const debt = debtOf(b);
        return {
          ...b,
          reserved: b.reserved + estimate,
          spent: b.spent - charged + debt,
          remaining: b.remaining + charged - estimate,
          debt: b.debt - debt,
          isOverLimit: b.isOverLimit && !(debt > 0 && b.debt - debt <= b.overdraftLimit),
        };
      },
      { reservationId: id },
      extra,
      context,
    );
  }

  /** A direct debit (`POST /v1/events`) of `charged`. */
  debited(charged: number, bal: unknown, context?: CallContext): void {
    this.changed(
      bal,
      (b) => ({ ...b, spent: b.spent - charged, remaining: b.remaining + charged }),
      {},
      [],
      context,
    );
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
    const drafts = [request.observeMode === true ? observedDeniedDraft(facts) : deniedDraft(facts)];
    const spike = request.observeMode === true ? undefined : this.log.countReserve(tenant, true);
    if (spike !== undefined) drafts.push(spike);
    this.emit(drafts, context);
  }

  /** An observe-mode dry run's answer. */
  observed(
    request: ReserveRequest,
    tenant: string | undefined,
    scopePath: string,
    decision: string,
    reason: string | undefined,
    hold: number,
    context?: CallContext,
  ): void {
    const facts = {
      tenant,
      scope: scopePath,
      unit: request.estimate.unit,
      subject: request.subject,
      action: request.action,
    };
    const draft =
      decision === 'DENY'
        ? observedDeniedDraft({
            ...facts,
            reasonCode: reason ?? 'BUDGET_EXCEEDED',
            requested: request.estimate.amount,
          })
        : observedAllowedDraft({ ...facts, decision: decision as 'ALLOW', estimated: hold });
    this.emit([draft], context);
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
    const drafts = [...extra, ...balanceChangeDrafts(this.log, this.states, changes, cause)];
    if (drafts.length > 0) this.emit(drafts, context);
  }

  private emit(drafts: EventDraft[], context: CallContext | undefined): void {
    const origin = originOf(context);
    this.tail = this.tail
      .then(() => this.claimed(drafts))
      .then((kept) => {
        this.log.publish(kept, origin);
      })
      .catch(() => {});
  }

  private async claimed(drafts: EventDraft[]): Promise<EventDraft[]> {
    const kept: EventDraft[] = [];
    for (const draft of drafts) {
      if (!ONCE_TYPES.has(draft.type)) {
        kept.push(draft);
        continue;
      }
      const tenant = draft.tenant ?? tenantOfScope(draft.scope ?? '') ?? '__system__';
      const direction = (draft.data?.direction as string | undefined) ?? '';
      const claimed = await this.store
        .claim(tenant, `${draft.correlationId}:${direction}`, 40 * 86_400_000)
        .catch(() => true);
      if (claimed) kept.push(draft);
    }
    return kept;
  }
}
