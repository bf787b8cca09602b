import type { BudgetAuthority } from '../../authority.ts';
import {
  BudgetExceededError,
  CyclesError,
  IdempotencyMismatchError,
  NotFoundError,
  ReservationExpiredError,
  ReservationFinalizedError,
} from '../../protocol/errors.ts';
import type { CommitRequest } from '../../protocol/types.ts';
import { isTransient } from '../retry.ts';
import type { OutboxEntry } from './entry.ts';

// One replay of an outbox entry, with its original idempotency key: the same steps a live commit or
// release takes (REJECT overrun → charge the hold; expired or gone → the charge as an event).

/** How one replay ended. */
export type ReplayOutcome =
  | {
      result: 'confirmed';
      /** What the authority charged (0 for a release, or an intent its owner had settled). */
      charged: number;
      viaEvent: boolean;
      /**
       * The commit met NOT_FOUND longer than the reservation retention after it was first sent: an
       * earlier attempt may have landed and aged out, so the event may charge a second time.
       */
      possibleDuplicate: boolean;
    }
  | { result: 'rejected'; error: unknown }
  | { result: 'pending'; error: unknown };

/** Tries `entry` once against `authority`. `retentionMs`: how long the ledger keeps settled reservations. */
export async function replayEntry(
  authority: BudgetAuthority,
  entry: OutboxEntry,
  retentionMs: number,
  nowMs: number,
): Promise<ReplayOutcome> {
  try {
    return entry.operation === 'release'
      ? await replayRelease(authority, entry)
      : await replayCommit(authority, entry, retentionMs, nowMs);
  } catch (error) {
    // Unreachable, 5xx, 429, or a failure of our own (not a CyclesError): try again later.
    // Any other typed answer of the authority will be the same next time: a definitive rejection.
    const definitive = CyclesError.isInstance(error) && !isTransient(error);
    return definitive ? { result: 'rejected', error } : { result: 'pending', error };
  }
}

async function replayRelease(authority: BudgetAuthority, entry: OutboxEntry): Promise<ReplayOutcome> {
  try {
    await authority.release(entry.reservationId, {
      idempotencyKey: entry.idempotencyKey,
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    });
  } catch (error) {
    // Expired, aged out or already settled: the hold is no longer held, which is all a release wants.
    const gone =
      ReservationExpiredError.isInstance(error) ||
      NotFoundError.isInstance(error) ||
      ReservationFinalizedError.isInstance(error);
    if (!gone) throw error;
  }
  return { result: 'confirmed', charged: 0, viaEvent: false, possibleDuplicate: false };
}

async function replayCommit(
  authority: BudgetAuthority,
  entry: OutboxEntry,
  retentionMs: number,
  nowMs: number,
): Promise<ReplayOutcome> {
  const request = (idempotencyKey: string, amount: number): CommitRequest => ({
    idempotencyKey,
    actual: { unit: entry.unit, amount },
    ...(entry.metrics === undefined ? {} : { metrics: entry.metrics }),
    ...(entry.metadata === undefined ? {} : { metadata: entry.metadata }),
  });
  try {
    const response = await authority.commit(entry.reservationId, request(entry.idempotencyKey, entry.amount));
    return confirmed(response.charged.amount, false);
  } catch (error) {
    if (BudgetExceededError.isInstance(error) && entry.amount > entry.reserved) {
      const capped = `${entry.key}:commit-capped`;
      const response = await authority.commit(entry.reservationId, request(capped, entry.reserved));
      return confirmed(response.charged.amount, false);
    }
    if (
      entry.state === 'intent' &&
      (IdempotencyMismatchError.isInstance(error) || ReservationFinalizedError.isInstance(error))
    ) {
      // The owner settled the hold (with its real usage, or a release) before it died.
      return confirmed(0, false);
    }
    const gone = NotFoundError.isInstance(error);
    if (!ReservationExpiredError.isInstance(error) && !gone) throw error;
    const response = await authority.createEvent({
      idempotencyKey: entry.idempotencyKey,
      subject: entry.subject,
      action: entry.action,
      actual: { unit: entry.unit, amount: entry.amount },
      ...(entry.overagePolicy === undefined ? {} : { overagePolicy: entry.overagePolicy }),
      ...(entry.metrics === undefined ? {} : { metrics: entry.metrics }),
      ...(entry.metadata === undefined ? {} : { metadata: entry.metadata }),
    });
    const possibleDuplicate = gone && nowMs - entry.firstAttemptAtMs >= retentionMs;
    return confirmed(response.charged?.amount ?? entry.amount, true, possibleDuplicate);
  }
}

function confirmed(charged: number, viaEvent: boolean, possibleDuplicate = false): ReplayOutcome {
  return { result: 'confirmed', charged, viaEvent, possibleDuplicate };
}
