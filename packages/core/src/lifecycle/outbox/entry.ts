import { OVERAGE_POLICIES, type OveragePolicy, UNITS, type Unit } from '../../protocol/enums.ts';
import type { Action, Metadata, StandardMetrics, Subject } from '../../protocol/types.ts';
import { isObject } from '../../protocol/validate.ts';

// One settlement the outbox keeps until the authority confirms or definitively refuses it.

/** A settlement kept in the outbox (one per hold, named by the hold's key). */
export interface OutboxEntry {
  version: 1;
  /** The hold's key (its reserve idempotency key): the entry's name, unique per hold. */
  key: string;
  /**
   * `queued`: a commit or release that failed after its retries. `intent`: written when the hold was
   * granted (remote authorities), removed once it settles: left behind by a process that died before
   * settling, it charges the whole hold (usage unknown, never $0).
   */
  state: 'queued' | 'intent';
  operation: 'commit' | 'release';
  reservationId: string;
  /** The original idempotency key; the event fallback of a commit reuses it. */
  idempotencyKey: string;
  subject: Subject;
  action: Action;
  unit: Unit;
  /** Amount to charge (0 for a release). */
  amount: number;
  /** What was held: a commit refused above it (REJECT policy) charges this. */
  reserved: number;
  overagePolicy?: OveragePolicy;
  metrics?: StandardMetrics;
  metadata?: Metadata;
  reason?: string;
  /**
   * When the settlement was first sent (ms since the epoch), or when the intent was written. A commit
   * answered NOT_FOUND within the ledger's reservation retention of this time cannot have landed (a
   * committed reservation stays readable that long), so its event fallback cannot double charge.
   */
  firstAttemptAtMs: number;
  /** The process that wrote an intent: `<pid>:<boot id>`. */
  owner?: string;
}

const isAmount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** Parses a stored entry; undefined when it is corrupt (wrong JSON or shape). */
export function parseEntry(text: string): OutboxEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const entry = value as Partial<OutboxEntry> & Record<string, unknown>;
  const valid =
    entry.version === 1 &&
    typeof entry.key === 'string' &&
    entry.key !== '' &&
    (entry.state === 'queued' || entry.state === 'intent') &&
    (entry.operation === 'commit' || entry.operation === 'release') &&
    typeof entry.reservationId === 'string' &&
    typeof entry.idempotencyKey === 'string' &&
    isObject(entry.subject) &&
    isObject(entry.action) &&
    UNITS.includes(entry.unit as Unit) &&
    isAmount(entry.amount) &&
    isAmount(entry.reserved) &&
    isAmount(entry.firstAttemptAtMs) &&
    (entry.overagePolicy === undefined || OVERAGE_POLICIES.includes(entry.overagePolicy)) &&
    (entry.metrics === undefined || isObject(entry.metrics)) &&
    (entry.metadata === undefined || isObject(entry.metadata)) &&
    (entry.reason === undefined || typeof entry.reason === 'string') &&
    (entry.owner === undefined || typeof entry.owner === 'string');
  return valid ? (entry as OutboxEntry) : undefined;
}

/** Entry names become file names and hash fields: the hold keys are UUIDs, anything else is refused. */
export function isEntryKey(key: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(key);
}
