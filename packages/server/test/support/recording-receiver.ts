import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

/** A loopback webhook endpoint that answers 204 and keeps every JSON body it receives, by request path. */
export type RecordingReceiver = WebhookReceiver;

/** Starts a receiver that appends each body it is sent to `received` under its request path. */
export function startRecordingReceiver<T>(received: Map<string, T[]>): Promise<RecordingReceiver> {
  return startWebhookReceiver(({ path, raw }) => {
    const list = received.get(path) ?? [];
    list.push(JSON.parse(raw.toString('utf8')) as T);
    received.set(path, list);
    return 204;
  });
}
