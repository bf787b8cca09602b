import { ErrorCode } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';
import { cancelBeat, type ScheduledBeat, scheduleBeat } from './beat-scheduler.ts';
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
  /** Called once when the heartbeat gives up (not when `stop()` is called). */
  onStop(reason: string, extensions: number): void;
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
  let stopped = false;
  let scheduled: ScheduledBeat | undefined;
  let extensions = 0;
  let expiresAt = runtime.clock.now() + options.remainingTtlMs;
  const lead = Math.min(Math.floor(options.ttlMs / 2), 2 * options.roundTripMs + SAFETY_MARGIN_MS);

  const schedule = (delayMs: number, task: () => void) => {
    scheduled = scheduleBeat(delayMs, task);
  };
  const giveUp = (reason: string) => {
    if (stopped) return;
    stopped = true;
    options.onStop(reason, extensions);
  };
  const beat = (attempt: number, key: string, extendByMs: number) => {
    if (stopped) return;
    runtime.authority.extend(options.reservationId, { idempotencyKey: key, extendByMs }).then(
      (response) => {
        if (stopped) return;
        extensions += 1;
        const now = runtime.clock.now();
        expiresAt = now + (response.remainingTtlMs ?? response.expiresAtMs - now);
        next();
      },
      (error: unknown) => {
        if (stopped) return;
        const code = CyclesError.isInstance(error) ? error.code : 'UNKNOWN';
        const left = expiresAt - runtime.clock.now();
        if (TERMINAL.has(code) || !isTransient(error) || left <= 0) return giveUp(code);
        const backoff = Math.min(runtime.config.retry.baseDelayMs * 2 ** attempt, Math.floor(left / 2));
        schedule(backoff, () => beat(attempt + 1, key, extendByMs));
      },
    );
  };
  const next = () => {
    schedule(expiresAt - lead - runtime.clock.now(), () => {
      const key = `${options.idempotencyKey}:extend:${extensions + 1}`;
      const extendByMs = Math.max(1, options.ttlMs - Math.max(0, expiresAt - runtime.clock.now()));
      beat(0, key, extendByMs);
    });
  };
  next();
  return {
    stop() {
      stopped = true;
      if (scheduled !== undefined) cancelBeat(scheduled);
    },
    get extensions() {
      return extensions;
    },
  };
}
