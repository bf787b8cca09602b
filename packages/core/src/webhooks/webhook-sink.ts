import type { ProtocolEventListener } from '../ledger/events/event-log.ts';
import type { EventCategory, EventType, ProtocolEvent } from '../ledger/events/event-types.ts';
import { invalid } from '../protocol/errors.ts';
import { webhookRequest } from './delivery-request.ts';
import { retryDelayMs, retryPolicyOf, type WebhookRetryPolicy } from './retry-policy.ts';

/** Options of `createWebhookSink`. */
export interface WebhookSinkOptions {
  /** Where to POST each event (HTTPS unless `allowHttp`). */
  url: string;
  /** Signs each body (`X-Cycles-Signature`); the receiver verifies with the same secret. */
  secret: string;
  /** Only these event types (default: all, or those of `categories`). */
  eventTypes?: EventType[];
  /** Only these categories (added to `eventTypes`). */
  categories?: EventCategory[];
  /** Extra headers, e.g. `Authorization` for a Slack-style endpoint. */
  headers?: Record<string, string>;
  retry?: Partial<WebhookRetryPolicy>;
  /** Allow `http://` (local development only). Default false. */
  allowHttp?: boolean;
  /** Per-attempt timeout. Default 10,000 ms. */
  timeoutMs?: number;
  /** Told of an event given up on after its last retry. */
  onFailure?: (event: ProtocolEvent, error: string) => void;
}

/** A webhook endpoint fed by a ledger's events, without a server. */
export interface WebhookSink {
  /** The listener to pass as `events.onEvent` (or to `ledger.events.subscribe`). */
  send: ProtocolEventListener;
  /** Resolves when every delivery started so far succeeded or was given up on. */
  idle(): Promise<void>;
}

/**
 * Posts ledger events to a URL as a server's webhook would (same `Event` body, same signature and
 * headers), retrying with the spec's backoff off the caller's path: an embedded app's 80 % alert.
 * At-least-once while the process lives; receivers deduplicate on `event_id`.
 */
export function createWebhookSink(options: WebhookSinkOptions): WebhookSink {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw invalid('url', 'is not a URL', 'pass an absolute https:// URL');
  }
  if (url.protocol !== 'https:' && !(options.allowHttp === true && url.protocol === 'http:')) {
    throw invalid('url', 'must be https', 'use an https:// endpoint, or allowHttp for local development');
  }
  if (typeof options.secret !== 'string' || options.secret === '') {
    throw invalid('secret', 'is required', 'pass the signing secret the receiver verifies with');
  }
  const policy = retryPolicyOf(options.retry);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const types = options.eventTypes === undefined ? undefined : new Set<string>(options.eventTypes);
  const categories = options.categories === undefined ? undefined : new Set<string>(options.categories);
  const wanted = (event: ProtocolEvent) =>
    (types === undefined && categories === undefined) ||
    types?.has(event.event_type) === true ||
    categories?.has(event.category) === true;
  const pending = new Set<Promise<void>>();

  const deliver = async (event: ProtocolEvent): Promise<void> => {
    const request = webhookRequest(event, options.secret, options.headers);
    let lastError = '';
    for (let attempt = 0; attempt <= policy.maxRetries; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, retryDelayMs(policy, attempt)));
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: request.headers,
          body: request.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        if (response.ok) return;
        lastError = `HTTP ${response.status}`;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
    }
    options.onFailure?.(event, lastError);
  };

  return {
    send(event) {
      if (!wanted(event)) return;
      const delivery = deliver(event).finally(() => pending.delete(delivery));
      pending.add(delivery);
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
