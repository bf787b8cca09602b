import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import type { WebhookUrlGuard } from './url-guard.ts';
import { sharedWebhookKey } from './webhook-keys.ts';
import { parseWebhookSecurity, type WebhookSecurityConfig } from './webhook-security.ts';

// The URL policy every server on one Redis applies. A PUT stores it beside the subscriptions and bumps
// their version key, so the other servers, which poll that key once a second, read it when they reload
// the subscriptions: one mechanism for all shared webhook state. On the memory ledger it stays in this
// process.

type Client = RedisLedger['client'];

/** The server's `WebhookSecurityConfig`: applied by its guard, shared through Redis when there is one. */
export class SharedWebhookSecurity {
  constructor(
    readonly guard: WebhookUrlGuard,
    private readonly redis?: { client: Client; prefix: string },
  ) {}

  get config(): WebhookSecurityConfig {
    return this.guard.config;
  }

  /** Stores the config (Redis), then applies it here; the other servers apply it at their next poll. */
  async replace(config: WebhookSecurityConfig): Promise<void> {
    if (this.redis !== undefined) {
      const { client, prefix } = this.redis;
      await whenConnected(client);
      await client.set(sharedWebhookKey(prefix, 'security'), JSON.stringify(config));
      // After the write, so a server that sees the new version reads the new config.
      await client.incr(sharedWebhookKey(prefix, 'version'));
    }
    this.guard.replace(config);
  }

  /**
   * Applies the stored config, if an admin ever stored one (until then the config file's value holds).
   * Called when the subscriptions are (re)loaded; a failure leaves the version unseen, so it is retried.
   */
  async reload(): Promise<void> {
    if (this.redis === undefined) return;
    const { client, prefix } = this.redis;
    await whenConnected(client);
    const stored = await client.get(sharedWebhookKey(prefix, 'security'));
    if (stored !== null) this.guard.replace(parseWebhookSecurity(JSON.parse(stored)));
  }
}
