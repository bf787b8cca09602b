import { InvalidRequestError, type Ledger, NotFoundError, TenantClosedError } from '@cycles-guard/core';
import { EVENT_TYPES, SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { openCursor, sealCursor } from '../http/cursor.ts';
import { limitOf, param, timeOf } from '../http/list-params.ts';
import { checkQuery, queryOf } from '../http/query.ts';
import { toWireDelivery } from '../webhooks/delivery.ts';
import { type WebhookDispatcher, webhookLifecycle } from '../webhooks/dispatcher.ts';
import { undoRefusedUpdate } from '../webhooks/refused-update.ts';
import {
  createSubscription,
  inScope,
  type SubscriptionRecord,
  toWireSubscription,
  updateSubscription,
} from '../webhooks/subscription.ts';
import { toWebhookTestResponse, webhookTestEvent } from '../webhooks/test-event.ts';
import { requireAdmin } from './admin.ts';
import { tenantOf } from './events.ts';

type IdParams = { Params: { subscription_id: string } };

/** Most subscriptions one tenant may own (so no tenant can make every event fan out without bound). */
const MAX_PER_TENANT = 50;
/** Most events one replay scans (GOV SCAN LIMIT: a wider window is a 400). */
const REPLAY_SCAN_LIMIT = 10_000;
const DELIVERY_STATUSES = ['PENDING', 'SUCCESS', 'FAILED', 'RETRYING'];

function isAdmin(request: FastifyRequest, keys: ApiKeyRegistry): boolean {
  const value = request.headers['x-admin-api-key'];
  return keys.isAdmin(Array.isArray(value) ? value[0] : value);
}

function notFound(subscriptionId: string): NotFoundError {
  return new NotFoundError('No webhook subscription has this id', {
    details: { subscription_id: subscriptionId.slice(0, 128) },
  });
}

/** Options of the webhook routes. */
export interface WebhookRouteOptions {
  now: () => number;
}

/**
 * GOV webhooks: subscriptions for the admin (any tenant, or `__system__` for all) and for tenants
 * (self-service, their own only; another tenant's id is a 404), delivery listing and replay. Both
 * subscription invariants are checked on the resulting state before anything is stored.
 */
export function registerWebhookRoutes(
  app: FastifyInstance,
  ledger: Ledger,
  dispatcher: WebhookDispatcher,
  keys: ApiKeyRegistry,
  options: WebhookRouteOptions,
): void {
  const events = ledger.events!;
  const replaying = new Set<string>();

  const owned = async (subscriptionId: string, tenant: string | undefined): Promise<SubscriptionRecord> => {
    await dispatcher.ready();
    const record = dispatcher.get(subscriptionId);
    if (record === undefined || (tenant !== undefined && record.tenant_id !== tenant))
      throw notFound(subscriptionId);
    return record;
  };

  // GOV CASCADE Rule 2: a CLOSED tenant's subscriptions can be read, not created, changed, tested or
  // replayed (409 TENANT_CLOSED, as every other write of a closed tenant answers); nothing is sent.
  const requireOpenTenant = async (tenant: string): Promise<void> => {
    if (tenant === SYSTEM_TENANT || ledger.getTenant === undefined) return;
    if ((await ledger.getTenant(tenant))?.status !== 'CLOSED') return;
    throw new TenantClosedError(`Tenant ${tenant} is closed: its webhook subscriptions can only be read`, {
      details: { tenant },
    });
  };

  /**
   * The check of a write against a close racing it through any server: the tenant's status is read again
   * once the write is stored. Still open: the write landed before the flip, so the close's cascade, which
   * reads the subscriptions from the store after its flip, disables it. CLOSED: the write may have landed
   * after that read, so it is undone here (`undo`) and refused. Either way no subscription stays enabled
   * on a CLOSED tenant. (A failed read answers 503 and leaves the write: a re-close or the startup sweep
   * disables it if the tenant closed meanwhile.)
   */
  const recheckOpenTenant = async (tenant: string, undo: () => Promise<void>): Promise<void> => {
    try {
      await requireOpenTenant(tenant);
    } catch (error) {
      if (error instanceof TenantClosedError) await undo();
      throw error;
    }
  };

  /** A subscription the caller may write: `owned`, and its tenant not CLOSED. */
  const writable = async (
    subscriptionId: string,
    tenant: string | undefined,
  ): Promise<SubscriptionRecord> => {
    const record = await owned(subscriptionId, tenant);
    await requireOpenTenant(record.tenant_id);
    return record;
  };

  const tooMany = () =>
    new InvalidRequestError(`A tenant may own at most ${MAX_PER_TENANT} subscriptions: delete one first`, {
      details: { field: 'tenant_id' },
    });

  /**
   * The per-tenant bound, counted on this server's list right before the write with no await between,
   * so concurrent creates through this server cannot all pass it. (Counted before the URL's DNS check,
   * every create of a flood passed it.)
   */
  const requireRoom = (tenant: string): void => {
    if (tenant === SYSTEM_TENANT) return;
    if (dispatcher.list().filter((s) => s.tenant_id === tenant).length >= MAX_PER_TENANT) throw tooMany();
  };

  /**
   * On a store several servers share, each server's list lags the others' writes: once written, the
   * tenant's subscriptions are counted in the store itself, and a create that finds more than the bound
   * is undone and refused. Every create that stays saw every other one that stayed (each was stored
   * before it was counted), so the bound holds; racing creates may all be refused, never too many kept.
   */
  const recheckRoom = async (record: SubscriptionRecord): Promise<void> => {
    if (record.tenant_id === SYSTEM_TENANT || dispatcher.store.version === undefined) return;
    const stored = await dispatcher.store.subscriptions();
    if (stored.filter((s) => s.tenant_id === record.tenant_id).length <= MAX_PER_TENANT) return;
    await dispatcher.remove(record.subscription_id);
    throw tooMany();
  };

  const create = async (request: FastifyRequest, reply: FastifyReply, tenant: string, admin: boolean) => {
    await dispatcher.ready();
    await requireOpenTenant(tenant);
    requireRoom(tenant);
    const record = createSubscription(request.body, tenant, dispatcher.guard, options.now());
    await dispatcher.guard.check(record.url);
    requireRoom(tenant);
    await dispatcher.save(record);
    await recheckRoom(record);
    await recheckOpenTenant(tenant, () => dispatcher.remove(record.subscription_id));
    events.publish(
      [
        webhookLifecycle(
          'webhook.created',
          record,
          undefined,
          {},
          `webhook_create:${record.subscription_id}`,
        ),
      ],
      {
        requestId: request.id,
        traceId: request.traceId,
        actor: { type: admin ? (tenant === SYSTEM_TENANT ? 'admin' : 'admin_on_behalf_of') : 'api_key' },
      },
    );
    return reply
      .code(201)
      .send({ subscription: toWireSubscription(record), signing_secret: record.signing_secret });
  };

  const update = async (request: FastifyRequest, current: SubscriptionRecord, admin: boolean) => {
    const previous = structuredClone(current);
    const next = updateSubscription(current, request.body, dispatcher.guard, options.now());
    if (next.url !== current.url) await dispatcher.guard.check(next.url);
    // Copies: this server's records are updated in place as deliveries end.
    const written = structuredClone(next);
    await dispatcher.save(next);
    await recheckOpenTenant(next.tenant_id, () =>
      undoRefusedUpdate(dispatcher, written, previous, new Date(options.now()).toISOString()),
    );
    const changed = Object.keys(request.body as object).filter((key) => key !== 'status');
    const type =
      next.status === current.status
        ? 'webhook.updated'
        : next.status === 'PAUSED'
          ? 'webhook.paused'
          : 'webhook.resumed';
    events.publish(
      [
        webhookLifecycle(
          type,
          next,
          current.status,
          type === 'webhook.updated' ? { changed_fields: changed } : {},
        ),
      ],
      {
        requestId: request.id,
        traceId: request.traceId,
        actor: { type: admin ? 'admin' : 'api_key' },
      },
    );
    return toWireSubscription(next);
  };

  const remove = async (request: FastifyRequest, reply: FastifyReply, record: SubscriptionRecord) => {
    await dispatcher.remove(record.subscription_id);
    events.publish([webhookLifecycle('webhook.deleted', record, record.status)], {
      requestId: request.id,
      traceId: request.traceId,
    });
    return reply.code(204).send();
  };

  // One signed attempt of `system.webhook_test`, answered with the endpoint's status and timing.
  const probe = async (request: FastifyRequest, record: SubscriptionRecord) => {
    const event = webhookTestEvent(
      record,
      { requestId: request.id, traceId: request.traceId },
      options.now(),
    );
    return toWebhookTestResponse(await dispatcher.probe(record, event));
  };

  const deliveries = async (request: FastifyRequest, record: SubscriptionRecord) => {
    const params = queryOf(request);
    checkQuery(params, 'listWebhookDeliveries');
    const status = param(params, 'status');
    if (status !== undefined && !DELIVERY_STATUSES.includes(status)) {
      throw new InvalidRequestError(`status must be one of ${DELIVERY_STATUSES.join(', ')}`, {
        details: { field: 'status' },
      });
    }
    const cursor = openCursor(params);
    const after = cursor === undefined ? undefined : Number.parseInt(cursor, 36);
    if (after !== undefined && !Number.isSafeInteger(after)) {
      throw new InvalidRequestError(
        'cursor is not a deliveries cursor: pass next_cursor from the previous page',
        {
          details: { field: 'cursor' },
        },
      );
    }
    const fromMs = timeOf(params, 'from');
    const toMs = timeOf(params, 'to');
    if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
      throw new InvalidRequestError('from is after to: send from ≤ to', { details: { field: 'from' } });
    }
    const result = await dispatcher.store.deliveries(record.subscription_id, {
      limit: limitOf(params),
      ...(status === undefined ? {} : { status: status as never }),
      ...(fromMs === undefined ? {} : { fromMs }),
      ...(toMs === undefined ? {} : { toMs }),
      ...(after === undefined ? {} : { after }),
    });
    const body: Record<string, unknown> = {
      deliveries: result.deliveries.map(toWireDelivery),
      has_more: result.next !== undefined,
    };
    const next = sealCursor(result.next?.toString(36), params);
    if (next !== undefined) body.next_cursor = next;
    return body;
  };

  // ---- admin plane ----
  app.post('/v1/admin/webhooks', async (request, reply) => {
    requireAdmin(request, keys);
    return create(request, reply, ownerOf(queryOf(request)), true);
  });
  app.get('/v1/admin/webhooks', async (request) => {
    requireAdmin(request, keys);
    await dispatcher.ready();
    const params = queryOf(request);
    const tenant = param(params, 'tenant_id');
    const status = param(params, 'status');
    const type = param(params, 'event_type');
    const subscriptions = dispatcher
      .list()
      .filter(
        (s) =>
          (tenant === undefined || s.tenant_id === tenant) &&
          (status === undefined || s.status === status) &&
          (type === undefined || s.event_types.includes(type)),
      );
    return { subscriptions: subscriptions.map(toWireSubscription), has_more: false };
  });
  app.get<IdParams>('/v1/admin/webhooks/:subscription_id', async (request) => {
    requireAdmin(request, keys);
    return toWireSubscription(await owned(request.params.subscription_id, undefined));
  });
  app.patch<IdParams>('/v1/admin/webhooks/:subscription_id', async (request) => {
    requireAdmin(request, keys);
    return update(request, await writable(request.params.subscription_id, undefined), true);
  });
  app.delete<IdParams>('/v1/admin/webhooks/:subscription_id', async (request, reply) => {
    requireAdmin(request, keys);
    return remove(request, reply, await writable(request.params.subscription_id, undefined));
  });
  app.post<IdParams>('/v1/admin/webhooks/:subscription_id/test', async (request) => {
    requireAdmin(request, keys);
    return probe(request, await writable(request.params.subscription_id, undefined));
  });
  app.get<IdParams>('/v1/admin/webhooks/:subscription_id/deliveries', async (request) => {
    requireAdmin(request, keys);
    return deliveries(request, await owned(request.params.subscription_id, undefined));
  });
  app.post<IdParams>('/v1/admin/webhooks/:subscription_id/replay', async (request, reply) => {
    requireAdmin(request, keys);
    const record = await writable(request.params.subscription_id, undefined);
    const { fromMs, toMs, types, maxEvents } = replayRequest(request.body);
    if (replaying.has(record.subscription_id)) {
      return reply.code(409).send({
        error: 'REPLAY_IN_PROGRESS',
        message: 'A replay to this subscription is still running: wait for it to finish',
        request_id: request.id,
        trace_id: request.traceId,
      });
    }
    const selected: ProtocolEvent[] = [];
    let scanned = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await events.list({
        sortDir: 'asc',
        limit: 100,
        fromMs,
        toMs,
        ...(record.tenant_id === SYSTEM_TENANT ? {} : { tenant: record.tenant_id }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      scanned += page.events.length;
      for (const event of page.events) {
        const chosen =
          types === undefined
            ? dispatcher.receives(record, event)
            : types.has(event.event_type) && inScope(record, event);
        if (chosen) selected.push(event);
      }
      if (selected.length > maxEvents) {
        throw new InvalidRequestError(
          `The window holds more than max_events (${maxEvents}) events: narrow from/to or raise max_events (≤ 1000)`,
          { details: { field: 'max_events' } },
        );
      }
      if (scanned > REPLAY_SCAN_LIMIT) {
        throw new InvalidRequestError(
          `The window holds more than ${REPLAY_SCAN_LIMIT} events to scan: narrow from/to`,
          { details: { field: 'from' } },
        );
      }
      if (!page.hasMore) break;
      cursor = page.nextCursor;
    }
    replaying.add(record.subscription_id);
    const sent = await dispatcher.replay(record, selected).catch((error: unknown) => {
      replaying.delete(record.subscription_id);
      throw error;
    });
    void Promise.allSettled(sent).then(() => replaying.delete(record.subscription_id));
    return reply.code(202).send({
      replay_id: `rpl_${request.id.replaceAll('-', '').slice(0, 24)}`,
      events_queued: sent.length,
      estimated_completion_seconds: Math.max(1, Math.ceil(sent.length / 50)),
    });
  });

  // ---- tenant self-service plane ----
  app.post('/v1/webhooks', async (request, reply) => create(request, reply, tenantOf(request, keys), false));
  app.get('/v1/webhooks', async (request) => {
    const tenant = tenantOf(request, keys);
    await dispatcher.ready();
    const mine = dispatcher.list().filter((s) => s.tenant_id === tenant);
    return { subscriptions: mine.map(toWireSubscription), has_more: false };
  });
  app.get<IdParams>('/v1/webhooks/:subscription_id', async (request) =>
    toWireSubscription(await owned(request.params.subscription_id, tenantOf(request, keys))),
  );
  app.patch<IdParams>('/v1/webhooks/:subscription_id', async (request) =>
    update(request, await writable(request.params.subscription_id, tenantOf(request, keys)), false),
  );
  app.delete<IdParams>('/v1/webhooks/:subscription_id', async (request, reply) =>
    remove(request, reply, await writable(request.params.subscription_id, tenantOf(request, keys))),
  );
  app.post<IdParams>('/v1/webhooks/:subscription_id/test', async (request) => {
    const tenant = isAdmin(request, keys) ? undefined : tenantOf(request, keys);
    return probe(request, await writable(request.params.subscription_id, tenant));
  });
  app.get<IdParams>('/v1/webhooks/:subscription_id/deliveries', async (request) => {
    const tenant = isAdmin(request, keys) ? undefined : tenantOf(request, keys);
    return deliveries(request, await owned(request.params.subscription_id, tenant));
  });
}

const TENANT = /^[a-zA-Z0-9_.-]{1,128}$/;

/**
 * The tenant an admin creates a subscription for: `tenant_id` once, a tenant name (lower-cased, as
 * tenants are) or `__system__`; none is `__system__`. A name no tenant could have is a 400, not stored.
 */
function ownerOf(params: URLSearchParams): string {
  const given = params.getAll('tenant_id').filter((value) => value.trim() !== '');
  if (given.length > 1) {
    throw new InvalidRequestError('tenant_id is given more than once: send it once', {
      details: { field: 'tenant_id' },
    });
  }
  const tenant = given[0]?.toLowerCase() ?? SYSTEM_TENANT;
  if (tenant === SYSTEM_TENANT.toLowerCase()) return SYSTEM_TENANT;
  if (!TENANT.test(tenant)) {
    throw new InvalidRequestError(
      'tenant_id must be a tenant (≤ 128 chars of [a-zA-Z0-9_.-]) or __system__; omit it for __system__',
      { details: { field: 'tenant_id' } },
    );
  }
  return tenant;
}

/** The replay body: `from`/`to` (inclusive, required here), `event_types`, `max_events` 1–1000 (100). */
function replayRequest(body: unknown) {
  const fail = (field: string, problem: string): never => {
    throw new InvalidRequestError(`${field} ${problem}`, { details: { field } });
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('body', 'must be a JSON object');
  const request = body as Record<string, unknown>;
  for (const key of Object.keys(request)) {
    if (!['from', 'to', 'event_types', 'max_events'].includes(key))
      fail(key.slice(0, 64), 'is not a field of a replay request: use from, to, event_types, max_events');
  }
  const time = (field: 'from' | 'to'): number => {
    const value = request[field];
    const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) fail(field, 'is required: send an ISO 8601 date-time');
    return ms;
  };
  const fromMs = time('from');
  const toMs = time('to');
  if (fromMs > toMs) fail('from', 'is after to');
  const maxEvents = request.max_events ?? 100;
  if (!Number.isInteger(maxEvents) || (maxEvents as number) < 1 || (maxEvents as number) > 1000) {
    fail('max_events', 'must be an integer from 1 to 1000');
  }
  let types: Set<string> | undefined;
  if (request.event_types !== undefined) {
    if (!Array.isArray(request.event_types) || request.event_types.some((t) => !EVENT_TYPES.includes(t))) {
      fail('event_types', 'must be an array of event types');
    }
    types = new Set<string>(request.event_types as string[]);
  }
  // Without event_types: whatever the subscription selects (types and categories).
  return { fromMs, toMs, types, maxEvents: maxEvents as number };
}
