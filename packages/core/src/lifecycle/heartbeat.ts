import { ErrorCode, type Unit } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';
import type { Action, Subject } from '../protocol/types.ts';
import {
  cancelBeat,
  type ReusableBeat,
  type ScheduledBeat,
  scheduleAgain,
  scheduleBeat,
} from './beat-scheduler.ts';
import { isTransient } from './retry.ts';
import type { Runtime } from './runtime.ts';

/** Errors after which extending again is pointless (PROTOCOL §2.7). */
const TERMINAL: ReadonlySet<string> = new Set([
  ErrorCode.RESERVATION_EXPIRED,
  ErrorCode.RESERVATION_FINALIZED,
  ErrorCode.MAX_EXTENSIONS_EXCEEDED,
  ErrorCode.TENANT_CLOSED,
  ErrorCode.NOT_FOUND,
]);

/** Margin kept before expiry on top of twice the observed round trip. */
const SAFETY_MARGIN_MS = 1_000;

/** What the heartbeat keeps alive. */
export interface HeartbeatOptions {
  reservationId: string;
  /** Base idempotency key; beat n uses `${key}:extend:${n}`, the same for every retry of that beat. */
  idempotencyKey: string;
  /** How far ahead the expiry is kept after each beat. */
  ttlMs: number;
  /** Milliseconds left when the hold was granted (the server's `remainingTtlMs`). */
  remainingTtlMs: number;
  /** Round trip of the reserve call, used to pick the lead time. */
  roundTripMs: number;
  /** Who the hold is for, reported by the `heartbeat-stopped` event if the heartbeat gives up. */
  subject: Subject;
  action: Action;
  unit: Unit;
}

/** A running heartbeat. */
export interface Heartbeat {
  /** Stops it (idempotent); called at settlement. */
  stop(): void;
  /** Number of successful extensions so far. */
  readonly extensions: number;
}

/**
 * Extends a hold shortly before it expires, by exactly what brings the expiry back to `ttlMs` ahead, so
 * it never drifts outward. Times are local (receipt time + `remainingTtlMs`), so server clock skew does
 * not matter. Beats share one unref'd timer (`beat-scheduler.ts`): a heartbeat never keeps the
 * process alive.
 */
export function startHeartbeat(runtime: Runtime, options: HeartbeatOptions): Heartbeat {
  return new HoldHeartbeat(runtime, options);
}

// A class with prototype methods rather than a bundle of closures: one starts per guarded call, and
// almost all of them are stopped before their first beat.
// It is also its own beat (`at`, `run`): scheduling it allocates nothing.
class HoldHeartbeat implements Heartbeat, ReusableBeat {
  /** Due time of its next beat (beat-scheduler's scale); only the scheduler reads it. */
  at = 0;
  #extensions = 0;
  #stopped = false;
  #scheduled: ScheduledBeat | undefined;
  #expiresAt: number;
  readonly #lead: number;
  readonly #runtime: Runtime;
  readonly #options: HeartbeatOptions;

  constructor(runtime: Runtime, options: HeartbeatOptions) {
    this.#runtime = runtime;
    this.#options = options;
    const now = runtime.clock.now();
    this.#expiresAt = now + options.remainingTtlMs;
    this.#lead = Math.min(Math.floor(options.ttlMs / 2), 2 * options.roundTripMs + SAFETY_MARGIN_MS);
    this.#next(now);
  }

  get extensions(): number {
    return this.#extensions;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#scheduled !== undefined) cancelBeat(this.#scheduled);
  }

  /** Schedules the next beat `lead` before the expiry. */
  #next(now: number): void {
    scheduleAgain(this, this.#expiresAt - this.#lead - now);
    this.#scheduled = this;
  }

  /** The beat is due (called by the beat scheduler). */
  run(): void {
    const clock = this.#runtime.clock;
    const key = `${this.#options.idempotencyKey}:extend:${this.#extensions + 1}`;
    const extendByMs = Math.max(1, this.#options.ttlMs - Math.max(0, this.#expiresAt - clock.now()));
    this.#beat(0, key, extendByMs);
  }

  #beat(attempt: number, key: string, extendByMs: number): void {
    if (this.#stopped) return;
    const runtime = this.#runtime;
    runtime.authority.extend(this.#options.reservationId, { idempotencyKey: key, extendByMs }).then(
      (response) => {
        if (this.#stopped) return;
        this.#extensions += 1;
        const now = runtime.clock.now();
        this.#expiresAt = now + (response.remainingTtlMs ?? response.expiresAtMs - now);
        this.#next(runtime.clock.now());
      },
      (error: unknown) => {
        if (this.#stopped) return;
        const code = CyclesError.isInstance(error) ? error.code : 'UNKNOWN';
        const left = this.#expiresAt - runtime.clock.now();
        if (TERMINAL.has(code) || !isTransient(error) || left <= 0) return this.#giveUp(code);
        const backoff = Math.min(runtime.config.retry.baseDelayMs * 2 ** attempt, Math.floor(left / 2));
        this.#scheduled = scheduleBeat(backoff, () => this.#beat(attempt + 1, key, extendByMs));
      },
    );
  }

  /** Gives up once (not when `stop()` was called) and emits `heartbeat-stopped`. */
  #giveUp(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const options = this.#options;
    this.#runtime.emit({
      type: 'heartbeat-stopped',
      timeMs: this.#runtime.clock.now(),
      subject: options.subject,
      action: options.action,
      unit: options.unit,
      reservationId: options.reservationId,
      reason,
      extensions: this.#extensions,
    });
  }
}
