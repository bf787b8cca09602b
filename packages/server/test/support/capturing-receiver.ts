import { type Delivery, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

/** A loopback webhook endpoint that keeps every delivery whole (headers and raw bytes), in order. */
export interface CapturingReceiver extends WebhookReceiver {
  /** The endpoint's URL (`<base>/hook`), to subscribe. */
  readonly url: string;
  readonly received: Delivery[];
}

/** Starts a receiver that keeps each delivery, then answers the status `answer` gives. */
export async function startCapturingReceiver(
  answer: () => number | Promise<number> = () => 204,
): Promise<CapturingReceiver> {
  const received: Delivery[] = [];
  const receiver = await startWebhookReceiver((delivery) => {
    received.push(delivery);
    return answer();
  });
  return { ...receiver, url: `${receiver.base}/hook`, received };
}
