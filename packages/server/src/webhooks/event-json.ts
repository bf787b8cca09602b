import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

// An event is encoded once, however many deliveries post it and however often its pending delivery
// record is written: the body is signed and sent as these exact bytes.

const encoded = new WeakMap<ProtocolEvent, string>();

/** The event's JSON, encoded on first use. */
export function eventJson(event: ProtocolEvent): string {
  let json = encoded.get(event);
  if (json === undefined) {
    json = JSON.stringify(event);
    encoded.set(event, json);
  }
  return json;
}
