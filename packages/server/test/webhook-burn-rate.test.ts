import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { useRedisAndReceiver } from './support/redis-and-receiver.ts';
import { settleRates } from './support/settle-rates.ts';
import { tenantSender } from './support/tenant-sender.ts';

// `burn_rate_multiplier` and `burn_rate_window_seconds` of GOV `WebhookThresholdConfig`, per
// subscription: each subscription receives the `budget.burn_rate_anomaly` of its own (multiplier,
// window) pair, an omitted field taking the ledger's (3x over 300 s), once per window. Random spends at
// random times, judged against a model written from the rule (a window's spend against the mean spend
// of the `baselineWindows` windows before it since the scope's history began), on both ledgers and,
// on Redis, with the spends split between two servers.

const KEY = 'acme-key-burn-0001';
const BASELINE_WINDOWS = 3;
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked by send()
type Json = any;
/** Path → the anomalies it received. */
const received = new Map<string, Json[]>();
const services = useRedisAndReceiver(received);
const violations: string[] = [];
const send = tenantSender(KEY, violations);
let prefixes = 0;

let keys = 0;
async function spend(server: CyclesServer, amount: number): Promise<void> {
  const answer = await send(server, 'POST', '/v1/events', {
    idempotency_key: `burn-${++keys}`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    actual: { unit: 'TOKENS', amount },
  });
  expect(answer.status).toBe(201);
}

/** Subscriptions by path: their burn fields (none: the ledger's 3x over 300 s). */
const SUBSCRIPTIONS: Record<string, { burn_rate_multiplier?: number; burn_rate_window_seconds?: number }> = {
  '/default': {},
  '/steep': { burn_rate_multiplier: 5 },
  '/mild': { burn_rate_multiplier: 1.5 },
  '/minute': { burn_rate_window_seconds: 60 },
  '/minute-steep': { burn_rate_window_seconds: 60, burn_rate_multiplier: 4 },
  '/two-minutes': { burn_rate_window_seconds: 120, burn_rate_multiplier: 2 },
};

const pairOf = (own: (typeof SUBSCRIPTIONS)[string]) => ({
  multiplier: own.burn_rate_multiplier ?? 3,
  windowMs: (own.burn_rate_window_seconds ?? 300) * 1000,
});

/**
 * The model: the window starts that fire at (multiplier, window), from the whole list of spends. A
 * window's history began at the latest spend window at or before it that follows more than
 * `BASELINE_WINDOWS` empty windows (or none); its baseline is the mean of the windows between.
 */
function modelFires(spends: { at: number; amount: number }[], multiplier: number, windowMs: number) {
  const byWindow = new Map<number, number>();
  for (const { at, amount } of spends) {
    const window = Math.floor(at / windowMs);
    byWindow.set(window, (byWindow.get(window) ?? 0) + amount);
  }
  const windows = [...byWindow.keys()].sort((a, b) => a - b);
  const fires = new Map<number, number>();
  let since = windows[0]!;
  for (const [index, window] of windows.entries()) {
    if (index > 0 && window - windows[index - 1]! > BASELINE_WINDOWS) since = window;
    const depth = Math.min(BASELINE_WINDOWS, window - since);
    if (depth === 0) continue;
    let sum = 0;
    for (let back = 1; back <= depth; back++) sum += byWindow.get(window - back) ?? 0;
    const baseline = sum / depth;
    if (baseline > 0 && byWindow.get(window)! >= multiplier * baseline)
      fires.set(window * windowMs, baseline);
  }
  return fires;
}

function config(ledger: StartServerOptions['ledger'], clock: ManualClock): StartServerOptions {
  return {
    port: 0,
    apiKeys: { [KEY]: 'acme' },
    adminApiKey: ADMIN_KEY,
    clock,
    ledger,
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e12 }],
    events: { burnRate: { baselineWindows: BASELINE_WINDOWS } },
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  };
}

const setups: [string, (clock: ManualClock) => Promise<CyclesServer[]>][] = [
  ['memory', async (clock) => [await startCyclesServer(config({ type: 'memory' }, clock))]],
  [
    'redis, two servers',
    async (clock) => {
      const shared = { type: 'redis' as const, url: services.redis.url, keyPrefix: `burn-${++prefixes}:` };
      return [await startCyclesServer(config(shared, clock)), await startCyclesServer(config(shared, clock))];
    },
  ],
];

describe.each(setups)('per-subscription burn-rate pairs (%s)', (name, start) => {
  it('send each subscription the anomaly of its own pair, once per window, as the model says', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const servers = await start(clock);
    const run = name.replace(/\W+/g, '-');
    try {
      for (const [path, thresholds] of Object.entries(SUBSCRIPTIONS)) {
        const created = await send(servers[0]!, 'POST', '/v1/webhooks', {
          url: `${services.hookBase}/${run}${path}`,
          event_types: ['budget.burn_rate_anomaly'],
          thresholds,
        });
        expect(created.status).toBe(201);
      }
      for (const server of servers.slice(1)) await server.webhooks!.refresh();
      await settleRates(servers); // a new pair counts from the next flush on
      let checked = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              gapMs: fc.oneof(
                fc.constant(0),
                fc.integer({ min: 0, max: 90_000 }),
                fc.integer({ min: 90_000, max: 700_000 }),
              ),
              amount: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 50, max: 400 })),
              flush: fc.boolean(),
            }),
            { minLength: 4, maxLength: 14 },
          ),
          async (steps) => {
            // A fresh day: every series starts afresh (more than a baseline of empty windows).
            clock.set(Math.ceil((clock.now() + 86_400_000) / 86_400_000) * 86_400_000);
            for (const [path] of Object.entries(SUBSCRIPTIONS)) received.delete(`/${run}${path}`);
            const spends: { at: number; amount: number }[] = [];
            for (const [index, { gapMs, amount, flush }] of steps.entries()) {
              // The servers flush every 250 ms of real time: a manual clock that moves further flushes first.
              if (gapMs >= 250) for (const server of servers) await server.rates!.flush();
              clock.advance(gapMs);
              const server = servers[index % servers.length]!;
              await spend(server, amount);
              spends.push({ at: clock.now(), amount });
              if (flush) await server.rates!.flush();
            }
            await settleRates(servers);
            for (const [path, own] of Object.entries(SUBSCRIPTIONS)) {
              const { multiplier, windowMs } = pairOf(own);
              const expected = modelFires(spends, multiplier, windowMs);
              const got = received.get(`/${run}${path}`) ?? [];
              const starts = got.map((event) =>
                Number(/:(\d+):\d+s\*?:x[^:]+$/.exec(event.correlation_id)?.[1]),
              );
              expect(starts.sort(), `${path}: ${JSON.stringify(spends)}`).toEqual(
                [...expected.keys()].sort(),
              );
              for (const event of got) {
                checked++;
                expect(govSchemaProblems('Event', event)).toEqual([]);
                expect(govSchemaProblems('EventDataBurnRateAnomaly', event.data)).toEqual([]);
                const minutes = windowMs / 60_000;
                const baseline = expected.get(Number(/:(\d+):\d+s/.exec(event.correlation_id)![1]))!;
                expect(event).toMatchObject({ tenant_id: 'acme', scope: 'tenant:acme' });
                expect(event.data.window_seconds).toBe(windowMs / 1000);
                expect(event.data.baseline_rate).toBeCloseTo(baseline / minutes, 9);
                expect(event.data.multiplier).toBeGreaterThanOrEqual(multiplier - 1e-9);
              }
            }
          },
        ),
        {
          numRuns: 12,
          // A known case first: a quiet window, then 40x its spend a window later (every pair fires).
          examples: [
            [
              [
                { gapMs: 0, amount: 10, flush: false },
                { gapMs: 300_000, amount: 200, flush: true },
                { gapMs: 1000, amount: 200, flush: false },
              ],
            ],
          ],
        },
      );
      expect(checked).toBeGreaterThan(0);
      expect(violations.splice(0)).toEqual([]);
    } finally {
      for (const server of servers) await server.close();
    }
  });
});
