import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { AuthorityUnavailableError, type Cycles, createCycles, currentBudget } from '@cycles-guard/core';
import type { LedgerDefinition } from '@cycles-guard/core/protocol';
import express5, { type Express, type Request } from 'express';
import express4 from 'express4';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cyclesErrorHandler, cyclesMiddleware, cyclesRoute } from '../src/index.ts';
import { guardedBedrockClient, SONNET, sonnetChatRoute } from './support/guarded-bedrock.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

function tenantLedger(allocated: number, tenant = 'acme'): LedgerDefinition {
  return { scope: `tenant:${tenant}`, unit: 'USD_MICROCENTS', allocated, window: { period: 'day' } };
}

/** Waits for settlement, which happens after the response: generous, since suites share busy machines. */
const waitFor = <T>(check: () => T | Promise<T>) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

const tenantOf = (request: Request) => ({ tenant: request.get('x-tenant') });

/**
 * The suite runs on both supported majors. Express 4 does not catch rejected promises of async
 * handlers, so there a handler passes its error to `next` (what Express 4 apps do).
 */
const EXPRESS_VERSIONS = [
  { name: 'Express 5', major: '5', express: express5, asyncErrors: true },
  { name: 'Express 4', major: '4', express: express4, asyncErrors: false },
];

let express: typeof express5 = express5;
/** Fails the request the way the running Express major expects from an async handler. */
let fail: (error: Error, next: (error: unknown) => void) => void = (error) => {
  throw error;
};

function appWith(cycles: Cycles, build: (app: Express) => void, deniedStatus?: 429 | 402): Express {
  const app = express();
  app.use(cyclesMiddleware({ cycles, subject: tenantOf }));
  build(app);
  app.use(cyclesErrorHandler(deniedStatus === undefined ? {} : { deniedStatus }));
  return app;
}

async function balanceOf(cycles: Cycles, tenant = 'acme') {
  const { balances } = await cycles.authority.getBalances({ tenant });
  const row = balances.find((balance) => balance.scopePath === `tenant:${tenant}`);
  return {
    spent: row?.spent?.amount ?? 0,
    reserved: row?.reserved?.amount ?? 0,
    remaining: row?.remaining.amount,
  };
}

describe.each(EXPRESS_VERSIONS)('on $name', (version) => {
  beforeAll(() => {
    express = version.express;
    fail = version.asyncErrors
      ? (error) => {
          throw error;
        }
      : (error, next) => next(error);
  });

  it('runs on the Express major it names', () => {
    const packageName = version.major === '4' ? 'express4' : 'express';
    const installed = createRequire(import.meta.url)(`${packageName}/package.json`) as { version: string };
    expect(installed.version.split('.')[0]).toBe(version.major);
  });

  describe('cyclesMiddleware', () => {
    it('resolves the subject per request and keeps the context across async handlers', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(1_000), tenantLedger(2_000, 'globex')] });
      const app = appWith(cycles, (app) =>
        app.get('/who', async (_request, response) => {
          await sleep(5);
          response.json({
            tenant: currentBudget()?.subject.tenant,
            same: currentBudget()?.cycles === cycles,
          });
        }),
      );
      const [acme, globex] = await Promise.all([
        request(app).get('/who').set('x-tenant', 'acme'),
        request(app).get('/who').set('x-tenant', 'globex'),
      ]);
      expect(acme.body).toEqual({ tenant: 'acme', same: true });
      expect(globex.body).toEqual({ tenant: 'globex', same: true });
      expect(acme.headers['x-cycles-budget-remaining']).toBe('1000');
      expect(acme.headers['x-cycles-budget-scope']).toBe('tenant:acme');
      expect(acme.headers['x-cycles-budget-unit']).toBe('USD_MICROCENTS');
      expect(globex.headers['x-cycles-budget-remaining']).toBe('2000');
    });

    it('reports the scope a call is charged to: the request subject merged over the instance subject', async () => {
      const cycles = createCycles({
        subject: { tenant: 'acme' },
        ledgers: [
          tenantLedger(1_000_000),
          { scope: 'tenant:acme/app:chat', unit: 'USD_MICROCENTS', allocated: 500 },
        ],
      });
      const app = express();
      // The request names only the app: the tenant comes from the instance, as for every guarded call.
      app.use(cyclesMiddleware({ cycles, subject: () => ({ app: 'chat' }) }));
      app.get('/spend', async (_request, response) => {
        await cycles.guard({ estimate: 100 }, () => 'done');
        response.json({ subject: currentBudget()?.subject });
      });
      const first = await request(app).get('/spend');
      expect(first.status).toBe(200);
      expect(first.headers['x-cycles-budget-scope']).toBe('tenant:acme/app:chat');
      expect(first.headers['x-cycles-budget-remaining']).toBe('500');
      // The guarded call charged exactly that scope, so the next request reports it spent.
      const charged = await cycles.authority.getBalances({ tenant: 'acme', app: 'chat', limit: 10 });
      expect(charged.balances.find((b) => b.scopePath === 'tenant:acme/app:chat')?.spent?.amount).toBe(100);
      const second = await request(app).get('/spend');
      expect(second.headers['x-cycles-budget-scope']).toBe('tenant:acme/app:chat');
      expect(second.headers['x-cycles-budget-remaining']).toBe('400');
    });

    it('answers a bad subject with 400 and reserves nothing', async () => {
      const cycles = createCycles({
        templates: [{ pattern: 'tenant:*', unit: 'USD_MICROCENTS', allocated: 100 }],
      });
      const handler = vi.fn();
      const reserve = vi.spyOn(cycles.authority, 'reserve');
      const app = appWith(cycles, (app) => app.get('/work', cyclesRoute({ estimate: 10 }), handler));
      const missing = await request(app).get('/work');
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({
        error: 'INVALID_REQUEST',
        message: expect.stringMatching(/standard field/),
      });
      const invalid = await request(app).get('/work').set('x-tenant', 'bad tenant!');
      expect(invalid.status).toBe(400);
      expect(invalid.body.message).toMatch(/subject.tenant has characters outside/);
      expect(handler).not.toHaveBeenCalled();
      expect(reserve).not.toHaveBeenCalled();
    });
  });

  describe('skip', () => {
    it('lets skipped requests through with no subject and no budget context; others are still checked', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(1_000)] });
      const app = express();
      app.use(cyclesMiddleware({ cycles, subject: tenantOf, skip: (request) => request.path === '/health' }));
      app.get('/health', (_request, response) => {
        response.json({ ok: true, context: currentBudget() !== undefined });
      });
      app.get('/work', (_request, response) => {
        response.json({ tenant: currentBudget()?.subject.tenant });
      });
      app.use(cyclesErrorHandler());
      const health = await request(app).get('/health');
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ ok: true, context: false });
      expect(health.headers['x-cycles-budget-remaining']).toBeUndefined();
      expect((await request(app).get('/work')).status).toBe(400);
      expect((await request(app).get('/work').set('x-tenant', 'acme')).body).toEqual({ tenant: 'acme' });
    });

    it('sends an error thrown by skip to the error handlers', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(1_000)] });
      const app = express();
      app.use(
        cyclesMiddleware({
          cycles,
          subject: tenantOf,
          skip: () => {
            throw new Error('skip failed');
          },
        }),
      );
      app.get('/work', (_request, response) => {
        response.json({});
      });
      app.use((error: Error, _request: Request, response: express5.Response, _next: unknown) => {
        response.status(500).json({ message: error.message });
      });
      const failed = await request(app).get('/work').set('x-tenant', 'acme');
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({ message: 'skip failed' });
    });
  });

  describe('the README quick start on this major', () => {
    let emulator: BedrockEmulator | undefined;
    afterEach(async () => {
      await emulator?.close();
    });

    it('asyncHandler: a denied Bedrock call in an async route answers 429 and the app keeps serving', async () => {
      emulator = await startBedrockEmulator({ port: 0 });
      const client = guardedBedrockClient(emulator.url);
      const cycles = createCycles({ ledgers: [tenantLedger(1_000)] }); // too small for any Sonnet call
      const unhandled = vi.fn();
      process.on('unhandledRejection', unhandled);
      try {
        const app = appWith(cycles, (app) => app.post('/chat', sonnetChatRoute(client)));
        const denied = await request(app).post('/chat').set('x-tenant', 'acme');
        expect(denied.status).toBe(429);
        expect(denied.body).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: 'tenant:acme' });
        expect(emulator.requests).toHaveLength(0);
        expect((await request(app).post('/chat').set('x-tenant', 'acme')).status).toBe(429);
        expect(unhandled).not.toHaveBeenCalled();
      } finally {
        process.off('unhandledRejection', unhandled);
      }
    });
  });

  describe('cyclesRoute and cyclesErrorHandler', () => {
    it('commits the route hold, then denies with 429, the scope, the remaining budget and Retry-After', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100)] });
      const app = appWith(cycles, (app) =>
        app.post(
          '/resize',
          cyclesRoute({ estimate: 60, actionKind: 'image.resize' }),
          (_request, response) => {
            response.json({ ok: true });
          },
        ),
      );
      const first = await request(app).post('/resize').set('x-tenant', 'acme');
      expect(first.status).toBe(200);
      await waitFor(async () => expect(await balanceOf(cycles)).toMatchObject({ spent: 60, reserved: 0 }));
      const second = await request(app).post('/resize').set('x-tenant', 'acme');
      expect(second.status).toBe(429);
      expect(second.body).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: 'tenant:acme', remaining: 40 });
      const retryAfter = Number(second.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(86_400);
      expect(second.body.retryAfterSeconds).toBe(retryAfter);
      expect(second.headers['x-cycles-budget-remaining']).toBe('40');
    });

    it('answers denials with 402 when configured', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(10)] });
      const app = appWith(
        cycles,
        (app) => app.get('/x', cyclesRoute({ estimate: 50 }), (_q, r) => r.end()),
        402,
      );
      const response = await request(app).get('/x').set('x-tenant', 'acme');
      expect(response.status).toBe(402);
      expect(response.body.error).toBe('BUDGET_EXCEEDED');
    });

    it('releases the route hold when the handler throws (async) or answers 5xx', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100)] });
      const app = appWith(cycles, (app) => {
        app.get('/throws', cyclesRoute({ estimate: 30 }), async (_request, _response, next) => {
          await sleep(1);
          fail(new Error('handler failed'), next);
        });
        app.get('/503', cyclesRoute({ estimate: 30 }), (_request, response) => {
          response.status(503).end();
        });
      });
      expect((await request(app).get('/throws').set('x-tenant', 'acme')).status).toBe(500);
      expect((await request(app).get('/503').set('x-tenant', 'acme')).status).toBe(503);
      await waitFor(async () => expect(await balanceOf(cycles)).toMatchObject({ spent: 0, reserved: 0 }));
    });

    it('sends errors thrown by estimate or attributes to the error handler, reserving nothing', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100)] });
      const reserve = vi.spyOn(cycles.authority, 'reserve');
      const app = appWith(cycles, (app) =>
        app.get(
          '/estimate',
          cyclesRoute({
            estimate: () => {
              throw new Error('cannot estimate');
            },
          }),
          (_request, response) => response.end(),
        ),
      );
      expect((await request(app).get('/estimate').set('x-tenant', 'acme')).status).toBe(500);
      const broken = express();
      broken.use(
        cyclesMiddleware({
          cycles,
          subject: tenantOf,
          attributes: () => {
            throw new Error('bad attributes');
          },
        }),
      );
      broken.get('/x', (_request, response) => response.end());
      expect((await request(broken).get('/x').set('x-tenant', 'acme')).status).toBe(500);
      expect(reserve).not.toHaveBeenCalled();
    });

    it('commits what was held when actual() throws', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100)] });
      const app = appWith(cycles, (app) =>
        app.get(
          '/metered',
          cyclesRoute({
            estimate: 30,
            actual: () => {
              throw new Error('meter offline');
            },
          }),
          (_request, response) => response.json({ ok: true }),
        ),
      );
      expect((await request(app).get('/metered').set('x-tenant', 'acme')).status).toBe(200);
      await waitFor(async () => expect(await balanceOf(cycles)).toMatchObject({ spent: 30, reserved: 0 }));
    });

    it('never overspends with 100 concurrent requests for one tenant', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(500)] });
      const app = appWith(cycles, (app) =>
        app.get('/job', cyclesRoute({ estimate: 7 }), async (_request, response) => {
          await sleep(2);
          response.json({ ok: true });
        }),
      );
      const server = app.listen(0);
      try {
        const responses = await Promise.all(
          Array.from({ length: 100 }, () => request(server).get('/job').set('x-tenant', 'acme')),
        );
        const allowed = responses.filter((response) => response.status === 200).length;
        const denied = responses.filter((response) => response.status === 429).length;
        expect(allowed).toBe(71);
        expect(denied).toBe(29);
        await waitFor(async () => expect(await balanceOf(cycles)).toMatchObject({ spent: 497, reserved: 0 }));
      } finally {
        server.close();
      }
    });

    it('commits an SSE route once the stream ends', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100)] });
      const app = appWith(cycles, (app) =>
        app.get('/events', cyclesRoute({ estimate: 25 }), async (_request, response) => {
          response.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
          for (let index = 0; index < 3; index++) {
            response.write(`data: ${index}\n\n`);
            await sleep(5);
          }
          response.end();
        }),
      );
      const response = await request(app).get('/events').set('x-tenant', 'acme');
      expect(response.status).toBe(200);
      expect(response.text).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\n');
      expect(response.headers['x-cycles-budget-remaining']).toBe('100');
      await waitFor(async () => expect(await balanceOf(cycles)).toMatchObject({ spent: 25, reserved: 0 }));
    });
  });

  describe('error mapping', () => {
    it('answers AuthorityUnavailableError with 503 and leaves foreign errors to Express', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100)] });
      const app = appWith(cycles, (app) => {
        app.get('/down', async (_request, _response, next) => {
          await sleep(1);
          fail(new AuthorityUnavailableError('budget authority unreachable'), next);
        });
        app.get('/boom', () => {
          throw new Error('boom');
        });
      });
      const down = await request(app).get('/down').set('x-tenant', 'acme');
      expect(down.status).toBe(503);
      expect(down.body).toEqual({ error: 'AUTHORITY_UNAVAILABLE', message: 'budget authority unreachable' });
      expect((await request(app).get('/boom').set('x-tenant', 'acme')).status).toBe(500);
    });

    it('accepts an async subject resolver (e.g. an API-key lookup)', async () => {
      const cycles = createCycles({ ledgers: [tenantLedger(100, 'initech')] });
      const keys = new Map([['key-1', 'initech']]);
      const app = express();
      app.use(
        cyclesMiddleware({
          cycles,
          subject: async (request) => {
            await sleep(1);
            return { tenant: keys.get(request.get('authorization') ?? '') };
          },
        }),
      );
      app.get('/who', (_request, response) => response.json(currentBudget()?.subject));
      const known = await request(app).get('/who').set('authorization', 'key-1');
      expect(known.body).toEqual({ tenant: 'initech' });
      expect((await request(app).get('/who').set('authorization', 'nope')).status).toBe(400);
    });
  });

  describe('client disconnect', () => {
    let emulator: BedrockEmulator | undefined;
    afterEach(async () => {
      await emulator?.close();
    });

    it('aborts the context signal and the Bedrock stream, and commits the partial usage', async () => {
      emulator = await startBedrockEmulator({ port: 0, outputTokens: 4_000, latency: { perChunkMs: 10 } });
      const client = guardedBedrockClient(emulator.url);
      const cycles = createCycles({ ledgers: [tenantLedger(100_000_000)] });
      let contextSignal: AbortSignal | undefined;
      let handlerError: unknown;
      const app = appWith(cycles, (app) =>
        app.get('/chat', async (_request, response) => {
          contextSignal = currentBudget()?.signal;
          response.set('Content-Type', 'text/event-stream');
          try {
            const output = await client.send(
              new ConverseStreamCommand({
                modelId: SONNET,
                messages: [{ role: 'user', content: [{ text: 'hello' }] }],
                inferenceConfig: { maxTokens: 4_096 },
              }),
            );
            for await (const event of output.stream ?? []) {
              const text = event.contentBlockDelta?.delta?.text;
              if (text !== undefined) response.write(`data: ${JSON.stringify(text)}\n\n`);
            }
            response.end();
          } catch (error) {
            handlerError = error;
          }
        }),
      );
      const server = app.listen(0);
      const { port } = server.address() as AddressInfo;
      try {
        await new Promise<void>((resolve, reject) => {
          const outgoing = httpRequest(
            { port, path: '/chat', headers: { 'x-tenant': 'acme' } },
            (incoming) => {
              incoming.once('data', () => {
                outgoing.destroy();
                resolve();
              });
            },
          );
          outgoing.on('error', (error) => (outgoing.destroyed ? resolve() : reject(error)));
          outgoing.end();
        });
        await waitFor(() => expect(contextSignal?.aborted).toBe(true));
        await waitFor(() => expect(emulator?.requests[0]?.aborted).toBe(true));
        expect(emulator.requests[0]?.outputTokens).toBeLessThan(4_000);
        await waitFor(() => expect(handlerError).toBeDefined());
        await waitFor(async () => {
          const balance = await balanceOf(cycles);
          expect(balance.spent).toBeGreaterThan(0);
          // Charged what was observed, not the 4,096-token hold (6,146,250 µ¢): the input, plus the output
          // counted from the deltas received at ≤ 3 tokens per emulator word (Sonnet: 1,500 µ¢/token).
          const written = emulator?.requests[0]?.outputTokens ?? 0;
          expect(balance.spent).toBeLessThan(6_146_250);
          expect(balance.spent).toBeLessThanOrEqual(50_000 + 1_500 * (3 * written + 16));
          expect(balance.reserved).toBe(0);
        });
      } finally {
        server.close();
      }
    });
  });
});
