import type { EventOrigin, LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import type { RateWatch } from './rate-watch.ts';

// `api_key.auth_failed` and the auth failure rate behind `api_key.auth_failure_rate_spike`. Anyone can
// send bad keys, so a failure costs a counter and, rarely, an event: every auth attempt (a request that
// carried a key, or one answered 401) is a sample of the rate and every 401 a hit, counted by the rate
// watch with the next batch; `api_key.auth_failed` is sampled, at most `perSource` per source address and
// `total` in all per window (defaults 5 and 20 an hour: a third of the `__system__` events a Redis store
// keeps over its 7 days, even under a flood that never ends). A tracked source's failures that were not
// reported are counted, and the next event for that source carries the count (`suppressed_count`); at
// most `maxSources` sources are tracked at once, the failures of others are counted in the rate only.
// Both events are the admin's: no tenant (`__system__`), category `api_key`.

/** Bounds of `api_key.auth_failed` (see the file's comment). */
export interface AuthFailureBounds {
  /** Default 1 hour. */
  windowMs?: number;
  /** Events per source address per window. Default 5. */
  perSource?: number;
  /** Events in all per window. Default 20. */
  total?: number;
  /** Source addresses tracked at once. Default 1,000. */
  maxSources?: number;
}

interface Source {
  window: number;
  emitted: number;
  /** Failures not reported since this source's last event. */
  suppressed: number;
}

const KEY_HEADERS = ['x-cycles-api-key', 'x-admin-api-key', 'authorization'] as const;

/** Counts auth attempts and failures, and emits the bounded `api_key.auth_failed` events. */
export class AuthFailures {
  private readonly bounds: Required<AuthFailureBounds>;
  private window = Number.NaN;
  private emitted = 0;
  /** The window the sources were last swept in (at most one sweep per window). */
  private swept = Number.NaN;
  private readonly sources = new Map<string, Source>();

  constructor(
    private readonly log: LedgerEventLog,
    private readonly rates: RateWatch | undefined,
    private readonly now: () => number,
    bounds: AuthFailureBounds = {},
  ) {
    this.bounds = { windowMs: 3_600_000, perSource: 5, total: 20, maxSources: 1000, ...bounds };
  }

  /** One answered request (`onResponse`): an auth attempt if it carried a key or was answered 401. */
  answered(
    request: { headers: Record<string, unknown>; ip: string; id: string; traceId: string },
    status: number,
  ): void {
    const keyed = KEY_HEADERS.some((name) => request.headers[name] !== undefined);
    const failed = status === 401;
    if (!keyed && !failed) return;
    this.rates?.authAttempt(failed);
    if (!failed) return;
    this.failed(request.ip, keyed ? 'key_not_found' : 'key_missing', {
      requestId: request.id,
      traceId: request.traceId,
      actor: { type: 'api_key', source_ip: request.ip },
    });
  }

  /** Sources tracked now (at most `maxSources`). */
  get trackedSources(): number {
    return this.sources.size;
  }

  private failed(ip: string, reason: string, origin: EventOrigin): void {
    const window = Math.floor(this.now() / this.bounds.windowMs);
    if (window !== this.window) {
      this.window = window;
      this.emitted = 0;
    }
    const source = this.sourceOf(ip, window);
    if (source === undefined) return;
    if (source.window !== window) {
      source.window = window;
      source.emitted = 0;
    }
    if (source.emitted >= this.bounds.perSource || this.emitted >= this.bounds.total) {
      source.suppressed++;
      return;
    }
    source.emitted++;
    this.emitted++;
    const suppressed = source.suppressed;
    source.suppressed = 0;
    this.log.publish(
      [
        {
          type: 'api_key.auth_failed',
          tenant: undefined,
          data: { failure_reason: reason, source_ip: ip, suppressed_count: suppressed },
        },
      ],
      origin,
    );
  }

  /**
   * The source's record. Past `maxSources`, once per window, the sources of ended windows make room (a
   * count still pending is kept one window more); a source that finds no room is not tracked.
   */
  private sourceOf(ip: string, window: number): Source | undefined {
    let source = this.sources.get(ip);
    if (source !== undefined) return source;
    if (this.sources.size >= this.bounds.maxSources) {
      if (this.swept === window) return undefined;
      this.swept = window;
      for (const [key, old] of this.sources) {
        if (old.window < window - 1 || (old.window !== window && old.suppressed === 0))
          this.sources.delete(key);
      }
      if (this.sources.size >= this.bounds.maxSources) return undefined;
    }
    source = { window, emitted: 0, suppressed: 0 };
    this.sources.set(ip, source);
    return source;
  }
}
