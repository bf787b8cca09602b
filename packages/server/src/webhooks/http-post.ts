import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { WebhookUrlGuard } from './url-guard.ts';

// Webhook POSTs over keep-alive connections (a few per endpoint), without fetch's stream machinery:
// deliveries share the server's event loop with the reserve path, so each one must cost little. The
// connections belong to one dispatcher, so a socket opened under one server's policy never serves
// another's.

/** Posts JSON bodies through a guard: every new connection goes to an address the guard just checked. */
export class WebhookPoster {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 16 });

  constructor(
    readonly guard: WebhookUrlGuard,
    private readonly timeoutMs: number,
  ) {}

  /**
   * The endpoint's status, or throws on a transport failure, a timeout or a URL the guard refuses.
   * Redirects are not followed. A host name is resolved and checked by the guard's `lookup`; an IP
   * literal never reaches `lookup`, so it is checked here.
   */
  post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const target = this.guard.checkForm(url);
      const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
      if (isIP(host) !== 0) this.guard.checkAddress(host, host);
      const secure = target.protocol === 'https:';
      const send = secure ? httpsRequest : httpRequest;
      const outgoing = send(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
          agent: secure ? this.https : this.http,
          lookup: this.guard.lookup as never,
          timeout: this.timeoutMs,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  /** Closes the idle connections. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
