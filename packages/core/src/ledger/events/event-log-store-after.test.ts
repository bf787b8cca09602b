import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.ts';
import { LedgerEventLog } from './event-log.ts';
import type { ProtocolEvent } from './event-types.ts';
import { MemoryEventStore } from './memory-event-store.ts';

// A webhook dispatcher on a shared store holds the storing of events until its first delivery mark is
// stored: listeners still hear each event at once, and the held events are stored in publish order.

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<void>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  return { promise, resolve, reject };
}

const denied = (tenant: string) => ({ type: 'reservation.denied' as const, tenant });

async function storedIds(log: LedgerEventLog): Promise<string[]> {
  return (await log.list({ sortDir: 'asc', limit: 100 })).events.map((event) => event.event_id);
}

describe('LedgerEventLog.storeAfter', () => {
  it('stores what was published meanwhile only once the promise settles, in order, and announces at once', async () => {
    const clock = new ManualClock();
    const log = new LedgerEventLog({ store: new MemoryEventStore({ clock }) }, clock);
    const heard: ProtocolEvent[] = [];
    log.subscribe((event) => {
      heard.push(event);
    });
    const ready = deferred();
    log.storeAfter(ready.promise);
    const held = [...log.publish([denied('a'), denied('b')]), ...log.publish([denied('a')])];
    expect(heard).toEqual(held);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await storedIds(log)).toEqual([]);
    ready.resolve();
    await expect.poll(() => storedIds(log)).toEqual(held.map((event) => event.event_id));
    const [after] = log.publish([denied('b')]);
    expect(await storedIds(log)).toEqual([...held, after!].map((event) => event.event_id));
  });

  it('stores the held events when the promise rejects too', async () => {
    const clock = new ManualClock();
    const log = new LedgerEventLog({ store: new MemoryEventStore({ clock }) }, clock);
    const ready = deferred();
    log.storeAfter(ready.promise);
    const [event] = log.publish([denied('a')]);
    ready.reject(new Error('closed before its first mark'));
    await expect.poll(() => storedIds(log)).toEqual([event!.event_id]);
  });

  it('puts its publisher tag in every event id', () => {
    const log = new LedgerEventLog();
    expect(log.publisherTag).toMatch(/^[0-9a-z]{6}$/);
    for (const event of log.publish([denied('a'), denied('b')]))
      expect(event.event_id).toContain(log.publisherTag);
  });
});
