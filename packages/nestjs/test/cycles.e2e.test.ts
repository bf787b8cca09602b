import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import {
  AuthorityUnavailableError,
  type Balance,
  type Cycles as CyclesInstance,
  createCycles,
  currentBudget,
} from '@cycles-guard/core';
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  type MessageEvent,
  Module,
  Sse,
} from '@nestjs/common';
import { delay, map, Observable, of } from 'rxjs';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  Cycles,
  CyclesBudget,
  type CyclesHttpRequest,
  CyclesModule,
  type CyclesModuleOptions,
  CyclesService,
} from '../src/index.ts';
import { type Platform, startNestApp } from './support/nest-app.ts';

const UNIT = 'USD_MICROCENTS';

function makeCycles(): CyclesInstance {
  return createCycles({
    heartbeat: false,
    ledgers: [
      { scope: 'tenant:acme', unit: UNIT, allocated: 1_000 },
      { scope: 'tenant:poor', unit: UNIT, allocated: 5 },
      { scope: 'tenant:daily', unit: UNIT, allocated: 5, window: { period: 'day' } },
      { scope: 'tenant:stream', unit: UNIT, allocated: 1_000 },
    ],
  });
}

/** Records what a slow handler's work saw when its client left. */
const slowProbe: { aborted: boolean; reason: unknown } = { aborted: false, reason: undefined };

/** Records what the SSE handler's work saw, so the test can assert the abort reached it. */
const sseProbe: { signal: AbortSignal | undefined; abortReason: unknown; ticks: number } = {
  signal: undefined,
  abortReason: undefined,
  ticks: 0,
};

@CyclesBudget({ subject: { app: 'chat' } })
@Controller()
class BudgetController {
  constructor(@Inject(CyclesService) private readonly cyclesService: CyclesService) {}

  @Get('subject')
  async subject(): Promise<unknown> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { subject: currentBudget()?.subject, action: currentBudget()?.action ?? null };
  }

  @CyclesBudget({ subject: { agent: 'bot' }, action: { kind: 'tool', name: 'search' } })
  @Get('merged')
  merged(): unknown {
    return { subject: currentBudget()?.subject, action: currentBudget()?.action };
  }

  @CyclesBudget({ skip: true })
  @Get('skipped')
  skipped(): unknown {
    return { context: currentBudget() === undefined ? 'none' : 'open' };
  }

  @Get('rx')
  rx(): Observable<unknown> {
    return of(1).pipe(
      delay(5),
      map(() => ({ subject: currentBudget()?.subject })),
    );
  }

  @CyclesBudget({ estimate: 100 })
  @Get('work')
  async work(): Promise<unknown> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { done: true };
  }

  @CyclesBudget({ estimate: 100 })
  @Get('fail')
  async fail(): Promise<unknown> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('handler failed');
  }

  @CyclesBudget({ estimate: 10_000 })
  @Get('expensive')
  expensive(): unknown {
    return { done: true };
  }

  @Get('balances')
  async balances(): Promise<unknown> {
    const balances: Balance[] = await this.cyclesService.getBalances();
    return balances.map((balance) => ({ scopePath: balance.scopePath, remaining: balance.remaining.amount }));
  }

  @Get('manual')
  async manual(): Promise<unknown> {
    return this.cyclesService.guard({ estimate: 30 }, async (hold) => ({ reserved: hold.reserved }));
  }

  @Get('unavailable')
  unavailable(): unknown {
    throw new AuthorityUnavailableError('ledger unreachable');
  }

  @Get('slow')
  async slow(): Promise<unknown> {
    const signal = currentBudget()?.signal;
    // Stands in for an in-flight Bedrock call that honours the context signal.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      signal?.addEventListener('abort', () => {
        slowProbe.aborted = true;
        slowProbe.reason = signal.reason;
        clearTimeout(timer);
        resolve();
      });
    });
    return { done: true };
  }

  @CyclesBudget({ estimate: 200 })
  @Sse('held-stream')
  heldStream(): Observable<MessageEvent> {
    return this.stream();
  }

  @Sse('stream')
  stream(): Observable<MessageEvent> {
    const signal = currentBudget()?.signal;
    sseProbe.signal = signal;
    return new Observable<MessageEvent>((subscriber) => {
      // Stands in for an in-flight Bedrock stream that listens to the context signal.
      const timer = setInterval(() => {
        sseProbe.ticks += 1;
        subscriber.next({ data: { tick: sseProbe.ticks } });
      }, 10);
      signal?.addEventListener('abort', () => {
        sseProbe.abortReason = signal.reason;
        clearInterval(timer);
      });
      return () => clearInterval(timer);
    });
  }
}

@CyclesBudget({ skip: true })
@Controller('quiet')
class QuietController {
  @Get()
  quiet(): unknown {
    return { context: currentBudget() === undefined ? 'none' : 'open' };
  }

  @CyclesBudget({ skip: false, subject: { app: 'loud' } })
  @Get('loud')
  loud(): unknown {
    return { subject: currentBudget()?.subject };
  }
}

@Injectable()
class TenantHeader {
  readonly name = 'x-tenant';
}

@Module({ providers: [TenantHeader], exports: [TenantHeader] })
class ConfigModule {}

function subjectFromHeader(request: unknown): { tenant: string } {
  const headers = (request as { headers: Record<string, string | undefined> }).headers;
  return { tenant: headers['x-tenant'] ?? 'acme' };
}

/** A catch-all filter of the app itself, registered with `useGlobalFilters`. */
@Catch()
class TeapotFilter implements ExceptionFilter {
  catch(_exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<{ status?: unknown; code?: unknown; raw?: unknown }>();
    const reply = response as { code?: (status: number) => { send: (body: unknown) => void } };
    if (typeof reply.code === 'function') reply.code(418).send({ teapot: true });
    else
      (response as unknown as { status: (status: number) => { json: (body: unknown) => void } })
        .status(418)
        .json({ teapot: true });
  }
}

async function start(
  platform: Platform,
  module: ReturnType<typeof CyclesModule.forRoot>,
  configure?: (app: INestApplication) => void,
): Promise<{ app: INestApplication; url: string }> {
  return startNestApp(
    platform,
    { imports: [module], controllers: [BudgetController, QuietController] },
    configure,
  );
}

async function ledger(cycles: CyclesInstance, tenant: string): Promise<{ spent: number; reserved: number }> {
  const { balances } = await cycles.authority.getBalances({ tenant });
  const balance = balances.find((candidate) => candidate.scopePath === `tenant:${tenant}`);
  return { spent: balance?.spent?.amount ?? 0, reserved: balance?.reserved?.amount ?? 0 };
}

describe('names and types', () => {
  it('keeps @Cycles as the deprecated name of @CyclesBudget (core exports a `Cycles` type)', () => {
    expect(Cycles).toBe(CyclesBudget);
  });

  it('types the subject callback: headers without a cast, or the platform request it annotates', () => {
    interface AuthenticatedRequest extends IncomingMessage {
      user?: { tenantId: string };
    }
    const fromUser = (request: AuthenticatedRequest) => ({ tenant: request.user?.tenantId });
    const fromHeader: CyclesModuleOptions['subject'] = (request) => ({
      tenant: String(request.headers['x-tenant']),
    });
    expectTypeOf(CyclesModule.forRoot).toBeCallableWith({ subject: fromUser });
    expectTypeOf(CyclesModule.forRoot).toBeCallableWith({ subject: fromHeader });
  });
});

describe.each([['express' as const], ['fastify' as const]])('CyclesModule on %s', (platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function forRoot(
    options: CyclesModuleOptions = {},
  ): Promise<{ url: string; cycles: CyclesInstance }> {
    const cycles = makeCycles();
    const started = await start(
      platform,
      CyclesModule.forRoot({ cycles, subject: subjectFromHeader, ...options }),
    );
    app = started.app;
    return { url: started.url, cycles };
  }

  it('resolves the subject per request and keeps the context across awaits', async () => {
    const { url } = await forRoot();
    const [first, second] = await Promise.all([
      fetch(`${url}/subject`, { headers: { 'x-tenant': 'acme' } }).then((response) => response.json()),
      fetch(`${url}/subject`, { headers: { 'x-tenant': 'other' } }).then((response) => response.json()),
    ]);
    expect(first).toEqual({ subject: { tenant: 'acme', app: 'chat' }, action: null });
    expect(second).toEqual({ subject: { tenant: 'other', app: 'chat' }, action: null });
  });

  it('merges method-level @Cycles over class-level', async () => {
    const { url } = await forRoot();
    const body = await (await fetch(`${url}/merged`)).json();
    expect(body).toEqual({
      subject: { tenant: 'acme', app: 'chat', agent: 'bot' },
      action: { kind: 'tool', name: 'search' },
    });
  });

  it('opens no context with skip: true', async () => {
    const { url } = await forRoot();
    expect(await (await fetch(`${url}/skipped`)).json()).toEqual({ context: 'none' });
  });

  it('lets a handler undo a controller-level skip', async () => {
    const { url } = await forRoot();
    expect(await (await fetch(`${url}/quiet`)).json()).toEqual({ context: 'none' });
    expect(await (await fetch(`${url}/quiet/loud`)).json()).toEqual({
      subject: { tenant: 'acme', app: 'loud' },
    });
  });

  it('carries the context into an RxJS pipeline', async () => {
    const { url } = await forRoot();
    const body = await (await fetch(`${url}/rx`, { headers: { 'x-tenant': 'acme' } })).json();
    expect(body).toEqual({ subject: { tenant: 'acme', app: 'chat' } });
  });

  it('commits an estimate hold when the handler completes', async () => {
    const { url, cycles } = await forRoot();
    const response = await fetch(`${url}/work`);
    expect(response.status).toBe(200);
    expect(await ledger(cycles, 'acme')).toEqual({ spent: 100, reserved: 0 });
  });

  it('releases an estimate hold when the handler throws, leaving the error to Nest', async () => {
    const { url, cycles } = await forRoot();
    const response = await fetch(`${url}/fail`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ statusCode: 500, message: 'Internal server error' });
    expect(await ledger(cycles, 'acme')).toEqual({ spent: 0, reserved: 0 });
  });

  it('answers a denial with 429 and the JSON body', async () => {
    const { url, cycles } = await forRoot();
    const response = await fetch(`${url}/expensive`, { headers: { 'x-tenant': 'poor' } });
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = await response.json();
    expect(body).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: expect.stringContaining('tenant:poor') });
    expect(await ledger(cycles, 'poor')).toEqual({ spent: 0, reserved: 0 });
  });

  it('never overspends with 100 concurrent requests for one tenant', async () => {
    const { url, cycles } = await forRoot();
    // tenant:acme has 1,000 and each request holds 100: exactly ten fit, whatever the interleaving.
    const statuses = await Promise.all(
      Array.from({ length: 100 }, () =>
        fetch(`${url}/work`, { headers: { 'x-tenant': 'acme' } }).then(async (response) => {
          await response.arrayBuffer();
          return response.status;
        }),
      ),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(90);
    await expect.poll(() => ledger(cycles, 'acme')).toEqual({ spent: 1_000, reserved: 0 });
  });

  it('answers a missing tenant with 400 like Express, not 404 for the decorator-only scope', async () => {
    const headerOnly = (request: CyclesHttpRequest) => ({ tenant: request.headers['x-tenant'] as string });
    const { url, cycles } = await forRoot({ subject: headerOnly });
    const response = await fetch(`${url}/work`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: 'INVALID_REQUEST',
      message: expect.stringMatching(/standard field/),
    });
    expect(await ledger(cycles, 'acme')).toEqual({ spent: 0, reserved: 0 });
    expect((await fetch(`${url}/work`, { headers: { 'x-tenant': 'acme' } })).status).toBe(200);
  });

  it('answers an invalid subject with 400', async () => {
    const { url } = await forRoot();
    const response = await fetch(`${url}/subject`, { headers: { 'x-tenant': 'bad tenant!' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'INVALID_REQUEST' });
  });

  it('reads balances and guards manually through CyclesService', async () => {
    const { url, cycles } = await forRoot();
    expect(await (await fetch(`${url}/manual`)).json()).toEqual({ reserved: 30 });
    expect(await ledger(cycles, 'acme')).toEqual({ spent: 30, reserved: 0 });
    expect(await (await fetch(`${url}/balances`)).json()).toEqual([
      { scopePath: 'tenant:acme', remaining: 970 },
    ]);
  });

  it('forRootAsync with a factory, and deniedStatus 402', async () => {
    const cycles = makeCycles();
    const module = CyclesModule.forRootAsync({
      imports: [ConfigModule],
      inject: [TenantHeader],
      useFactory: (header: TenantHeader) => ({
        cycles,
        deniedStatus: 402 as const,
        subject: (request: unknown) => ({
          tenant: (request as { headers: Record<string, string> }).headers[header.name] ?? 'acme',
        }),
      }),
    });
    const started = await start(platform, module);
    app = started.app;
    const denied = await fetch(`${started.url}/expensive`, { headers: { 'x-tenant': 'poor' } });
    expect(denied.status).toBe(402);
    expect(await denied.json()).toMatchObject({ error: 'BUDGET_EXCEEDED' });
    const ok = await fetch(`${started.url}/subject`, { headers: { 'x-tenant': 'acme' } });
    expect(((await ok.json()) as { subject: unknown }).subject).toEqual({ tenant: 'acme', app: 'chat' });
  });

  it('answers Retry-After for a windowed budget', async () => {
    const { url } = await forRoot();
    const response = await fetch(`${url}/expensive`, { headers: { 'x-tenant': 'daily' } });
    expect(response.status).toBe(429);
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(await response.json()).toMatchObject({ error: 'BUDGET_EXCEEDED', retryAfterSeconds: retryAfter });
  });

  it("leaves other errors to the app's own global filters", async () => {
    const cycles = makeCycles();
    const started = await start(
      platform,
      CyclesModule.forRoot({ cycles, subject: subjectFromHeader }),
      (nest) => nest.useGlobalFilters(new TeapotFilter()),
    );
    app = started.app;
    expect((await fetch(`${started.url}/fail`)).status).toBe(418);
    // Nest tries the filter registered last first: the app's catch-all sees budget errors too (documented).
    expect((await fetch(`${started.url}/expensive`, { headers: { 'x-tenant': 'poor' } })).status).toBe(418);
  });

  it('answers AuthorityUnavailableError with 503', async () => {
    const { url } = await forRoot();
    const response = await fetch(`${url}/unavailable`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: 'AUTHORITY_UNAVAILABLE', message: 'ledger unreachable' });
  });

  it('sets the X-Cycles-Budget-* headers on JSON, denial and SSE responses', async () => {
    const { url } = await forRoot();
    const before = await fetch(`${url}/work`, { headers: { 'x-tenant': 'acme' } });
    expect(before.status).toBe(200);
    expect(before.headers.get('x-cycles-budget-remaining')).toBe('1000');
    expect(before.headers.get('x-cycles-budget-scope')).toBe('tenant:acme');
    expect(before.headers.get('x-cycles-budget-unit')).toBe(UNIT);
    // Read before the handler: the next request sees the 100 the first one committed.
    const after = await fetch(`${url}/subject`, { headers: { 'x-tenant': 'acme' } });
    expect(after.headers.get('x-cycles-budget-remaining')).toBe('900');
    const denied = await fetch(`${url}/expensive`, { headers: { 'x-tenant': 'poor' } });
    expect(denied.status).toBe(429);
    expect(denied.headers.get('x-cycles-budget-remaining')).toBe('5');
    expect(denied.headers.get('x-cycles-budget-scope')).toBe('tenant:poor');
    const controller = new AbortController();
    try {
      const stream = await fetch(`${url}/stream`, {
        signal: controller.signal,
        headers: { 'x-tenant': 'stream' },
      });
      expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
      expect(stream.headers.get('x-cycles-budget-remaining')).toBe('1000');
      expect(stream.headers.get('x-cycles-budget-scope')).toBe('tenant:stream');
    } finally {
      controller.abort();
    }
  });

  it('omits the budget headers with budgetHeaders: false, and for subjects without a budget', async () => {
    const { url } = await forRoot({ budgetHeaders: false });
    const response = await fetch(`${url}/subject`, { headers: { 'x-tenant': 'acme' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cycles-budget-remaining')).toBeNull();
    await app?.close();
    const unbudgeted = await forRoot();
    const other = await fetch(`${unbudgeted.url}/subject`, { headers: { 'x-tenant': 'nobody' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('x-cycles-budget-remaining')).toBeNull();
  });

  it('aborts the context signal when the client disconnects mid-request', async () => {
    slowProbe.aborted = false;
    slowProbe.reason = undefined;
    const { url } = await forRoot();
    const controller = new AbortController();
    const pending = fetch(`${url}/slow`, { signal: controller.signal }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await pending;
    await expect.poll(() => slowProbe.aborted).toBe(true);
    expect(slowProbe.reason).toBeInstanceOf(Error);
  });

  it('commits an estimate hold when an SSE client disconnects', async () => {
    const { url, cycles } = await forRoot();
    const controller = new AbortController();
    const response = await fetch(`${url}/held-stream`, {
      signal: controller.signal,
      headers: { 'x-tenant': 'stream' },
    });
    const reader = response.body!.getReader();
    let received = '';
    try {
      while (!received.includes('data:')) {
        const chunk = await reader.read();
        if (chunk.done) break;
        received += new TextDecoder().decode(chunk.value);
      }
      expect(await ledger(cycles, 'stream')).toEqual({ spent: 0, reserved: 200 });
    } finally {
      controller.abort();
    }
    await expect.poll(() => ledger(cycles, 'stream')).toEqual({ spent: 200, reserved: 0 });
  });

  it('aborts the context signal when an SSE client disconnects', async () => {
    sseProbe.signal = undefined;
    sseProbe.abortReason = undefined;
    sseProbe.ticks = 0;
    const { url } = await forRoot();
    const controller = new AbortController();
    const response = await fetch(`${url}/stream`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    let received = '';
    try {
      // Nest writes a bare newline first; read until the first event arrives.
      while (!received.includes('data: {"tick":')) {
        const chunk = await reader.read();
        if (chunk.done) break;
        received += new TextDecoder().decode(chunk.value);
      }
    } finally {
      controller.abort();
    }
    expect(received).toContain('data: {"tick":');
    await expect.poll(() => sseProbe.signal?.aborted).toBe(true);
    expect(sseProbe.abortReason).toBeInstanceOf(Error);
    const ticksAtAbort = sseProbe.ticks;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sseProbe.ticks).toBe(ticksAtAbort);
  });
});
