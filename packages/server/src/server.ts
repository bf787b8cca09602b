import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AuthorityUnavailableError, type Ledger } from '@cycles-guard/core';
import { type Clock, LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import { toWireErrorResponse } from '@cycles-guard/core/protocol';
import type { RedisLedger } from '@cycles-guard/redis';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { type KeyRevocations, MemoryKeyRevocations, openKeyRevocations } from './admin/key-revocations.ts';
import { TenantCascade } from './admin/tenant-cascade.ts';
import {
  MemoryTenantCreations,
  openTenantCreations,
  type TenantCreations,
} from './admin/tenant-creations.ts';
import { TenantGuard } from './admin/tenant-guard.ts';
import { ApiKeyRegistry } from './api-keys.ts';
import type { ServerConfig } from './config.ts';
import { answerClientError } from './http/client-error.ts';
import { HttpRefusal, sendError } from './http/errors.ts';
import './http/fastify-types.ts';
import { registerJsonBodyParser } from './http/json-body.ts';
import { traceIdOf } from './http/trace.ts';
import { registerUnknownRouteHandler } from './http/unknown-route.ts';
import { openLedger } from './ledger-store.ts';
import { type ObservabilityOptions, setUpObservability } from './observe/observability.ts';
import { openSpendStore } from './observe/open-spend-store.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerEventRoutes } from './routes/events.ts';
import { HEALTH_PATHS, registerHealthRoutes } from './routes/health.ts';
import { registerIntrospectRoute } from './routes/introspect.ts';
import { registerRuntimeRoutes } from './routes/runtime.ts';
import { registerWebhookSecurityRoutes } from './routes/webhook-security.ts';
import { registerWebhookRoutes } from './routes/webhooks.ts';
import { registerAdminEvents } from './webhooks/admin-events.ts';
import { type AuthFailureBounds, AuthFailures } from './webhooks/auth-failures.ts';
import { WebhookDispatcher } from './webhooks/dispatcher.ts';
import { openWebhookStore } from './webhooks/open-webhook-store.ts';
import { openRateCounts } from './webhooks/rate-counts.ts';
import { RateWatch } from './webhooks/rate-watch.ts';
import { SharedWebhookSecurity } from './webhooks/shared-webhook-security.ts';
import { watchStoreConnection } from './webhooks/store-connection.ts';
import { type HostResolver, WebhookUrlGuard } from './webhooks/url-guard.ts';
import { parseWebhookSecurity } from './webhooks/webhook-security.ts';

/** Logger levels at which `info` lines are written. */
const LOGS_INFO: ReadonlySet<string> = new Set(['trace', 'debug', 'info']);

/** Longest request URI (path and query) answered; longer ones get 414. Node refuses > 16 KiB of headers. */
export const MAX_URL_LENGTH = 8192;

/** Options of `startCyclesServer`: a config (see `parseServerConfig`) plus test hooks. */
export interface StartServerOptions extends Partial<ServerConfig>, ObservabilityOptions {
  /** Serve this ledger instead of opening the configured one (the server does not close it). */
  ledgerInstance?: Ledger;
  /** Clock of the memory ledger the server opens (tests pass a ManualClock). */
  clock?: Clock;
  /** A pino destination for the request log (tests); default stdout. */
  logStream?: { write(line: string): void };
  /** Resolves webhook hosts (tests simulate DNS answers); default the system resolver. */
  webhookResolver?: HostResolver;
  /** Bounds of `api_key.auth_failed` (default 5 per source and 20 in all per hour, 1,000 sources). */
  authFailureEvents?: AuthFailureBounds;
}

/** A running server. */
export interface CyclesServer {
  /** e.g. `http://127.0.0.1:7878` */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly ledger: Ledger;
  readonly apiKeys: ApiKeyRegistry;
  /** Delivers the ledger's events to webhook subscriptions (absent when the ledger keeps no events). */
  readonly webhooks: WebhookDispatcher | undefined;
  /** Counts the rate spikes' windows (tests await `flush()`); absent when the ledger keeps no events. */
  readonly rates: RateWatch | undefined;
  /** Stops accepting requests, lets in-flight ones finish, then closes the ledger it opened. Idempotent. */
  close(): Promise<void>;
}

/** Builds the Fastify app over a ledger (no listening). */
export function buildApp(
  ledger: Ledger,
  keys: ApiKeyRegistry,
  options: Pick<StartServerOptions, 'bodyLimitBytes' | 'logLevel' | 'logStream'> &
    ObservabilityOptions & {
      ledgerType: string;
      webhooks?: WebhookDispatcher;
      /** The URL policy the webhook routes read and replace (default: the dispatcher's guard, unshared). */
      webhookPolicy?: SharedWebhookSecurity;
      /** Who reports `tenant.created` (default: claimed in this process). */
      tenantCreations?: TenantCreations;
      /** Who reports each `api_key.revoked_via_tenant_cascade` (default: claimed beside the memory ledger). */
      keyRevocations?: KeyRevocations;
      /** Counts auth attempts and failures (`api_key.auth_failed`, the auth failure rate). */
      authFailures?: AuthFailures;
    },
): FastifyInstance {
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      ...(options.logStream === undefined ? {} : { stream: options.logStream }),
    },
    bodyLimit: options.bodyLimitBytes ?? 65_536,
    // Reservation ids may be 128 chars; longer ones reach the ledger and get a 400 naming the field.
    routerOptions: { maxParamLength: 512 },
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Fastify's two lines per request are replaced by the one `onResponse` writes.
    logController: new LogController({ disableRequestLogging: true }),
    // Refusals of the router and of Node's HTTP parser get the protocol's error body too.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    clientErrorHandler: answerClientError,
    // Fastify's own 503 body is not the protocol's: the `onRequest` hook below answers while closing.
    return503OnClosing: false,
  });
  app.decorateRequest('traceId', '');
  app.decorateRequest('tenant', undefined);
  let closing = false;

  app.addHook('onRequest', async (request, reply) => {
    request.traceId = traceIdOf(request.headers);
    reply.header('X-Request-Id', request.id);
    reply.header('X-Cycles-Trace-Id', request.traceId);
    if (request.url.length > MAX_URL_LENGTH) {
      throw new HttpRefusal(
        414,
        `The request URI is longer than ${MAX_URL_LENGTH} characters: send a shorter one`,
        {
          field: 'path',
        },
      );
    }
    if (closing && !HEALTH_PATHS.has(request.url)) {
      const error = new AuthorityUnavailableError('The server is shutting down: send the request again');
      return reply
        .code(503)
        .header('Connection', 'close')
        .send(toWireErrorResponse(error, request.id, request.traceId));
    }
  });
  // One line per request: enough to trace a budget decision back to a caller.
  app.addHook('onResponse', async (request, reply) => {
    // Below `info` the line is dropped anyway: skip building it (the benchmark runs at `warn`).
    if (!LOGS_INFO.has(request.log.level)) return;
    request.log.info(
      {
        method: request.method,
        url: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        tenant: request.tenant,
        trace_id: request.traceId,
      },
      'request',
    );
  });
  const authFailures = options.authFailures;
  if (authFailures !== undefined) {
    // Callback style: an async hook costs every request a promise.
    app.addHook('onResponse', (request, reply, done) => {
      authFailures.answered(request, reply.statusCode);
      done();
    });
  }
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  registerJsonBodyParser(app);
  registerUnknownRouteHandler(app);
  app.addHook('preClose', async () => {
    closing = true;
  });
  // While closing, answers end their keep-alive connection, so close() is not held open by idle sockets.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('Connection', 'close');
  });

  registerHealthRoutes(app, () => closing, options.ledgerType);
  registerRuntimeRoutes(app, setUpObservability(app, ledger, keys, options), keys);
  const tenantGuard = new TenantGuard(ledger);
  tenantGuard.register(app, keys);
  const cascade = new TenantCascade(
    ledger,
    tenantGuard,
    options.webhooks,
    options.keyRevocations ?? new MemoryKeyRevocations(ledger),
  );
  registerAdminRoutes(app, ledger, keys, cascade);
  // Completes the cascade of tenants whose close was interrupted (GOV Rule 1, mode B (c)), off the start.
  let sweep: Promise<unknown> = Promise.resolve();
  app.addHook('onReady', async () => {
    sweep = cascade
      .sweep()
      .catch((error: unknown) => app.log.error({ err: error }, 'tenant-close sweep failed'));
  });
  app.addHook('preClose', () => sweep.then(() => undefined));
  registerIntrospectRoute(app, keys);
  registerEventRoutes(app, ledger, keys);
  registerAdminEvents(app, ledger, options.tenantCreations ?? new MemoryTenantCreations());
  const webhooks = options.webhooks;
  if (webhooks !== undefined) {
    registerWebhookRoutes(app, ledger, webhooks, keys, { now: () => Date.now() });
    registerWebhookSecurityRoutes(
      app,
      options.webhookPolicy ?? new SharedWebhookSecurity(webhooks.guard),
      keys,
      () => webhooks.ready(),
    );
    webhooks.onOutcome((outcome) => app.cyclesMetrics.webhookDelivery(outcome));
  }
  return app;
}

/** Opens the ledger, builds the app and listens. `port: 0` picks a free port. */
export async function startCyclesServer(options: StartServerOptions = {}): Promise<CyclesServer> {
  const store = options.ledger ?? { type: 'memory' as const };
  const budgets = {
    ledgers: options.ledgers ?? [],
    templates: options.templates ?? [],
    tenants: options.tenants ?? {},
  };
  const ownsLedger = options.ledgerInstance === undefined;
  const ledger = options.ledgerInstance ?? (await openLedger(store, budgets, options.clock, options));
  const keys = new ApiKeyRegistry(options.apiKeys ?? {}, options.adminApiKey);
  const guard = new WebhookUrlGuard(
    parseWebhookSecurity(options.webhookSecurity ?? { allow_http: options.webhookAllowHttp === true }),
    options.webhookResolver,
  );
  const webhookPolicy = new SharedWebhookSecurity(
    guard,
    store.type === 'redis' && 'client' in ledger
      ? { client: (ledger as RedisLedger).client, prefix: store.keyPrefix ?? 'cycles:' }
      : undefined,
  );
  const webhooks =
    ledger.events === undefined
      ? undefined
      : new WebhookDispatcher(ledger.events, openWebhookStore(ledger, store), {
          guard,
          onSharedChange: () => webhookPolicy.reload(),
          ...(options.webhookLeaseMs === undefined ? {} : { leaseMs: options.webhookLeaseMs }),
          ...(options.webhookMaxBacklog === undefined ? {} : { maxBacklog: options.webhookMaxBacklog }),
        });
  webhooks?.start();
  const now = () => options.clock?.now() ?? Date.now();
  // Rate spikes are counted beside the ledger (shared on Redis), at the pairs subscriptions ask for too.
  const rates =
    ledger.events instanceof LedgerEventLog
      ? new RateWatch(ledger.events, openRateCounts(ledger, store, now), () => webhooks?.list() ?? [], {
          now,
        })
      : undefined;
  // `system.store_connection_lost` / `_restored` from the Redis client (stopped before a deliberate close).
  const unwatchStore =
    store.type === 'redis' && 'client' in ledger && ledger.events instanceof LedgerEventLog
      ? watchStoreConnection((ledger as RedisLedger).client, ledger.events, now)
      : undefined;
  const app = buildApp(ledger, keys, {
    ...options,
    // Spend is shared through the ledger's Redis unless the caller brings its own record.
    ...(options.spendStore !== undefined || options.spendLog !== undefined
      ? {}
      : { spendStore: openSpendStore(ledger, store) }),
    ledgerType: store.type,
    ...(webhooks ? { webhooks, webhookPolicy } : {}),
    tenantCreations: openTenantCreations(ledger, store),
    keyRevocations: openKeyRevocations(ledger, store),
    ...(ledger.events instanceof LedgerEventLog
      ? { authFailures: new AuthFailures(ledger.events, rates, now, options.authFailureEvents) }
      : {}),
  });
  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7878 });
  } catch (error) {
    unwatchStore?.();
    await rates?.close();
    await webhooks?.close();
    if (ownsLedger) await ledger.close?.();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    app,
    ledger,
    apiKeys: keys,
    webhooks,
    rates,
    close() {
      closed ??= (async () => {
        await app.close();
        await rates?.close();
        await webhooks?.close();
        unwatchStore?.();
        if (ownsLedger) await ledger.close?.();
      })();
      return closed;
    },
  };
}
