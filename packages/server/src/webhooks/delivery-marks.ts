// Closing the crash window of batched delivery writes. A delivery is sent at once and its record
// written up to 10 ms later, so a server killed in between leaves no record of it. Each server
// therefore keeps one mark beside the deliveries: the event time from which its deliveries may not be
// stored yet (the oldest event in its inbox, in its write queue or in a write in flight; else the
// newest event it saw), written after a write batch succeeds (at most every 100 ms: an older mark only
// covers more) and at least every lease / 5 (its heartbeat). A mark not written for a lease belongs to
// a dead server: another one resends every event of that server from the mark on that an active
// subscription receives and has no stored delivery of, then removes the mark. Only that server's own
// events are resent: core's event log puts a tag of its process in every event id, and the mark
// carries it from the first one, which is stored before any event of the process is (`storeAfter`).
// Everything before a mark is stored, as a finished record or an unfinished one in the pending set
// (resumed on start), so nothing is lost; an event may arrive twice. A batch writes its records and the
// pending set apart (different Cluster slots), so a kill between the two can strand an unfinished record
// outside the pending set: the resend resumes those too.

import type { DeliveryRecord } from './delivery.ts';

/** A dead server's mark, as read. */
export interface OrphanedMark {
  instance: string;
  /** Event time (ms) from which that server's deliveries may be unstored. */
  fromMs: number;
  /** When it last wrote the mark (ms, wall clock). */
  beatMs: number;
  /** The tag of its event ids; none in a mark of an older version (then every server's events are resent). */
  tag: string | undefined;
  /** The stored value (removed only while unchanged). */
  raw: string;
}

/** The marks of a store several servers share (Redis). */
export interface DeliveryMarks {
  /**
   * Starts writing this server's mark: `open()` is the dispatcher's part of it (the oldest event not yet
   * handed to the store, else the newest event seen; the tag of its event ids). Writes the first mark.
   */
  start(open: () => OpenDeliveries): Promise<void>;
  /** Writes the mark again unless a write batch did within `withinMs`. */
  beat(withinMs: number): Promise<void>;
  /** Removes this server's mark when all its writes are done (a clean stop); else leaves it to the lease. */
  retire(): Promise<void>;
  /** Other servers' marks not written for `leaseMs`. */
  orphans(leaseMs: number): Promise<OrphanedMark[]>;
  /** Removes a mark once its window was resent, unless it changed meanwhile. */
  release(mark: OrphanedMark): Promise<void>;
  /** A subscription's stored deliveries, as the resend of a dead server's window needs them. */
  storedDeliveries(subscriptionId: string): Promise<StoredDeliveries>;
}

/** What the resend of a dead server's window needs to know of one subscription's stored deliveries. */
export interface StoredDeliveries {
  /** Ids of the events it has a stored delivery of. */
  events: Set<string>;
  /**
   * Its unfinished deliveries missing from the pending set, by event id: a server was killed between
   * the record and pending-set writes of one batch, and nothing else would resume them.
   */
  stranded: Map<string, DeliveryRecord>;
}

/** The dispatcher's part of a mark. */
export interface OpenDeliveries {
  sinceMs: number;
  /** The tag of this process's event ids (`LedgerEvents.publisherTag`). */
  tag: string;
}

/** A mark as stored: `<fromMs>|<beatMs>|<tag>`. */
export function formatMark(fromMs: number, beatMs: number, tag: string | undefined): string {
  return `${fromMs}|${beatMs}|${tag ?? ''}`;
}

/** Reads a stored mark; undefined when malformed. */
export function parseMark(instance: string, raw: string): OrphanedMark | undefined {
  const [from, beat, tag] = raw.split('|');
  const fromMs = Number(from);
  const beatMs = Number(beat);
  if (!Number.isFinite(fromMs) || !Number.isFinite(beatMs)) return undefined;
  return { instance, fromMs, beatMs, tag: tag === undefined || tag === '' ? undefined : tag, raw };
}

/** Whether the process tagged `tag` published the event. */
export function publishedBy(event: { event_id: string; timestamp: string }, tag: string): boolean {
  return event.event_id.startsWith(`evt_${Date.parse(event.timestamp).toString(36)}${tag}`);
}
