import { ErrorCode } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';
import {
  cancelBeat,
  type ReusableBeat,
  type ScheduledBeat,
  scheduleAgain,
  scheduleBeat,
} from './beat-scheduler.ts';
import { isTransient } from './retry.ts';
import type { Runtime } from './runtime.ts';
import type { HoldState } from './settle.ts';

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

/** What the heartbeat keeps alive, besides the hold's own state (key, subject, action, unit). */
export interface HeartbeatTiming {
  reservationId: string;
  /** How far ahead the expiry is kept after each beat. */
  ttlMs: number;
  /** Milliseconds left when the hold was granted (the server's `remainingTtlMs`). */
  remainingTtlMs: number;
  /** Round trip of the reserve call, used to pick the lead time. */
  roundTripMs: number;
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
export function startHeartbeat(state: HoldState, timing: HeartbeatTiming): Heartbeat {
  return new HoldHeartbeat(state, timing);
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
  readonly #ttlMs: number;
  readonly #reservationId: string;
  readonly #runtime: Runtime;
  /** The hold's state: beat keys derive from its key; its subject, action and unit go in the stop event. */
  readonly #state: HoldState;

  constructor(state: HoldState, timing: HeartbeatTiming) {
    const runtime = state.runtime;
    this.#runtime = runtime;
    this.#state = state;
    this.#reservationId = timing.reservationId;
    this.#ttlMs = timing.ttlMs;
    const now = runtime.clock.now();
    this.#expiresAt = now + timing.remainingTtlMs;
    this.#lead = Math.min(Math.floor(timing.ttlMs / 2), 2 * timing.roundTripMs + SAFETY_MARGIN_MS);
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
    const key = `${this.#state.key}:extend:${this.#extensions + 1}`;
    const extendByMs = Math.max(1, this.#ttlMs - Math.max(0, this.#expiresAt - clock.now()));
    this.#beat(0, key, extendByMs);
  }

  #beat(attempt: number, key: string, extendByMs: number): void {
    if (this.#stopped) return;
    const runtime = this.#runtime;
    runtime.authority.extend(this.#reservationId, { idempotencyKey: key, extendByMs }).then(
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
    const state = this.#state;
    this.#runtime.emit({
      type: 'heartbeat-stopped',
      timeMs: this.#runtime.clock.now(),
      subject: state.subject,
      action: state.action,
      unit: state.unit,
      reservationId: this.#reservationId,
      reason,
      extensions: this.#extensions,
    });
  }
}
