import { isIP, type Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import type { WebhookUrlGuard } from './url-guard.ts';
import type { WebhookSecurityConfig } from './webhook-security.ts';

// Webhook POSTs through undici over keep-alive connections (a few per endpoint): deliveries share the
// server's event loop with the reserve path, and measured on loopback undici costs ~20–27 µs of CPU per
// POST where `node:http` costs ~70–107 µs. The connections belong to one dispatcher, so a socket opened
// under one server's policy never serves another's.
//
// Pipelined, and corked per batch. With one POST in flight per connection (16 connections), delivery
// capacity was 16 POSTs per event-loop turn of the server, whose turns under load each carry ~50
// reserves and their events: deliveries fell behind the events and queued in the pool (p50 0.9-1.1 s
// under the webhook benchmark's load, all of it before the POST was written). Now each of CONNECTIONS
// connections carries up to PIPELINING POSTs, and a dispatcher batch (`batch`) corks the sockets, so
// the POSTs of one turn to one endpoint leave in a write per connection (and their answers come back in
// few reads) rather than a system call each: fewer connections, fuller writes. undici pipelines a POST
// only when it is marked idempotent and non-blocking: a delivery is (at least once; the receiver
// deduplicates on `event_id`), and when a connection closes with POSTs unanswered, undici fails the
// first (the dispatcher retries it) and sends the others again on a new connection, so one may arrive
// twice, none is lost. The cost: an endpoint slow to answer one POST holds the ones behind it on that
// connection (at most PIPELINING, each still bounded by the timeout).
//
// SSRF: a pooled connection was checked when it was opened (the guard's `lookup` resolved the name,
// checked every address and pinned the socket to them), so reusing it sends nothing to an unchecked
// address. A policy change (the admin PUT) must apply to connections too: the pool opened under the
// old policy is closed and the next POST opens new ones, checked under the new.

/** Connections per endpoint. */
const CONNECTIONS = 4;
/** POSTs in flight per connection. */
const PIPELINING = 32;

/** A URL as checked under one policy: where to send, and nothing to parse or test again. */
interface Target {
  origin: string;
  path: string;
}

/** Distinct URLs whose check is remembered (one per subscription in practice). */
const MAX_TARGETS = 1000;

/** Posts JSON bodies through a guard: every new connection goes to an address the guard just checked. */
export class WebhookPoster {
  private agent: Agent;
  /** The policy the agent's connections and the remembered targets were checked under. */
  private policy: WebhookSecurityConfig;
  private readonly targets = new Map<string, Target>();
  /** The open connections (of every agent not yet closed), corked during a batch. */
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly guard: WebhookUrlGuard,
    private readonly timeoutMs: number,
  ) {
    this.policy = guard.config;
    this.agent = this.newAgent();
  }

  private newAgent(): Agent {
    const connect = buildConnector({ lookup: this.guard.lookup as never, timeout: this.timeoutMs });
    return new Agent({
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: (options, callback) =>
        connect(options, (error, socket) => {
          if (error === null && socket) {
            this.sockets.add(socket);
            socket.once('close', () => this.sockets.delete(socket));
          }
          (callback as (...args: unknown[]) => void)(error, socket);
        }),
    });
  }

  /**
   * Runs `send`, whose POSTs then leave in one write per connection rather than one each. undici writes
   * a request after the call that queued it returns, so the sockets are uncorked on the next check
   * phase, not when `send` returns (then nothing was merged: 32 POSTs went out in 32 writes, now 4).
   */
  batch(send: () => void): void {
    const corked = [...this.sockets];
    for (const socket of corked) socket.cork();
    try {
      send();
    } finally {
      setImmediate(() => {
        for (const socket of corked) socket.uncork();
      });
    }
  }

  /**
   * The endpoint's status, or throws on a transport failure, a timeout or a URL the guard refuses.
   * Redirects are not followed. A host name is resolved and checked by the guard's `lookup`; an IP
   * literal never reaches `lookup`, so it is checked here.
   */
  async post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const target = this.targetOf(url);
    const response = await this.agent.request({
      origin: target.origin,
      path: target.path,
      method: 'POST',
      headers,
      body,
      // Pipelined (above): a delivery may be sent again, and its answer is expected at once.
      idempotent: true,
      blocking: false,
    });
    await response.body.dump();
    return response.statusCode;
  }

  /** The URL checked under the guard's current policy (remembered until the policy changes). */
  private targetOf(url: string): Target {
    if (this.guard.config !== this.policy) {
      // A server on a shared Redis applies the stored policy again whenever the subscriptions' version
      // moves: an equal policy keeps the connections and the checks.
      const changed = JSON.stringify(this.guard.config) !== JSON.stringify(this.policy);
      this.policy = this.guard.config;
      if (changed) {
        this.targets.clear();
        void this.agent.close(); // requests in flight finish on their connections; none is reused
        this.agent = this.newAgent();
      }
    }
    let target = this.targets.get(url);
    if (target === undefined) {
      const checked = this.guard.checkForm(url);
      const host = checked.hostname.startsWith('[') ? checked.hostname.slice(1, -1) : checked.hostname;
      if (isIP(host) !== 0) this.guard.checkAddress(host, host);
      target = { origin: checked.origin, path: `${checked.pathname}${checked.search}` };
      if (this.targets.size >= MAX_TARGETS) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }

  /** Closes the connections; POSTs still queued or unanswered fail (`DeliveryAttempts.close` gave up on them). */
  close(): void {
    void this.agent.destroy().catch(() => {});
  }
}
