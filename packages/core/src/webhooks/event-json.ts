import type { ProtocolEvent } from '../ledger/events/event-types.ts';

// An event is encoded once: the event store that appends it, every delivery that posts it (the body is
// signed and sent as these exact bytes) and every write of a pending delivery record share one string.

const encoded = new WeakMap<ProtocolEvent, string>();

/** The event's JSON, encoded on first use and remembered while the event object lives. */
export function eventJson(event: ProtocolEvent): string {
  let json = encoded.get(event);
  if (json === undefined) {
    json = JSON.stringify(event);
    encoded.set(event, json);
  }
  return json;
}
