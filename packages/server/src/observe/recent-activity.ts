import type { CyclesEvent } from '@cycles-guard/core';
import { type ReserveRequest, type ReserveResponse, scopePath } from '@cycles-guard/core/protocol';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

/** The protocol events the activity panel shows as alerts. */
const ALERTS: ReadonlySet<string> = new Set([
  'budget.threshold_crossed',
  'budget.exhausted',
  'budget.over_limit_entered',
  'budget.debt_incurred',
]);

/** One line of the dashboard's activity panel. */
export interface ActivityItem {
  timeMs: number;
  /**
   * `denial`, `partial` (a hold cut to what fitted), `capped` (an output limit cut), `cutoff`, or `alert`
   * (a budget's protocol event: a threshold crossed, exhausted, over its limit, debt).
   */
  kind: 'denial' | 'partial' | 'capped' | 'cutoff' | 'alert';
  scope: string;
  /** Error code, or why a limit was cut. */
  reason: string;
  detail: string;
}

/**
 * The latest denials and cuts, newest first, at most `max`: what the ledger (server) or the lifecycle's
 * events (embedded) show. The dashboard reads it through a data source, which can later be pointed at
 * the protocol events (`GET /v1/admin/events`) instead.
 */
export class RecentActivity {
  readonly #items: ActivityItem[] = [];

  constructor(
    readonly max = 200,
    private readonly now: () => number = Date.now,
  ) {}

  add(item: ActivityItem): void {
    this.#items.unshift(item);
    if (this.#items.length > this.max) this.#items.length = this.max;
  }

  list(limit = this.max): ActivityItem[] {
    return this.#items.slice(0, limit);
  }

  /** A reserve the ledger granted: noted when it held less than asked. */
  reserved(request: unknown, response: unknown): void {
    const asked = request as ReserveRequest;
    const answer = response as ReserveResponse;
    const held = answer.reserved?.amount;
    if (held === undefined || held >= asked.estimate.amount) return;
    this.add({
      timeMs: this.now(),
      kind: 'partial',
      scope: scopePath(asked.subject),
      reason: 'budget',
      detail: `held ${held} of ${asked.estimate.amount} ${asked.estimate.unit}`,
    });
  }

  /** A reserve the ledger refused. */
  refused(request: unknown, code: string, error: unknown): void {
    const asked = request as ReserveRequest | undefined;
    if (asked?.subject === undefined) return;
    this.add({
      timeMs: this.now(),
      kind: 'denial',
      scope: scopePath(asked.subject),
      reason: code,
      detail: error instanceof Error ? error.message.slice(0, 200) : String(error),
    });
  }

  /** Records a ledger's budget alerts (pass it to `ledger.events.subscribe`). */
  readonly onProtocolEvent = (event: ProtocolEvent): void => {
    if (!ALERTS.has(event.event_type)) return;
    const data = (event.data ?? {}) as Record<string, unknown>;
    const utilization =
      typeof data.utilization === 'number' ? `${Math.round(data.utilization * 100)} % used` : '';
    const threshold =
      typeof data.threshold === 'number' ? ` (threshold ${Math.round(data.threshold * 100)} %)` : '';
    this.add({
      timeMs: Date.parse(event.timestamp),
      kind: 'alert',
      scope: event.scope ?? String(data.scope ?? ''),
      reason: event.event_type,
      detail: `${utilization}${threshold}`,
    });
  };

  /** Records an embedded Cycles instance's denials, cuts and cutoffs (pass it to `onEvent`). */
  readonly onEvent = (event: CyclesEvent): void => {
    const scope = scopePath(event.subject);
    if (event.type === 'denial') {
      this.add({
        timeMs: event.timeMs,
        kind: 'denial',
        scope,
        reason: event.code,
        detail: event.message.slice(0, 200),
      });
    } else if (event.type === 'capped') {
      this.add({
        timeMs: event.timeMs,
        kind: 'capped',
        scope,
        reason: event.reason,
        detail: `${event.model}: ${event.requestedMaxOutputTokens} → ${event.grantedMaxOutputTokens} output tokens`,
      });
    } else if (event.type === 'cutoff') {
      this.add({
        timeMs: event.timeMs,
        kind: 'cutoff',
        scope,
        reason: 'hold reached',
        detail: `${event.model} stopped at ${event.outputTokens} output tokens`,
      });
    }
  };
}
