import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CyclesEvent, createCycles } from '@cycles-guard/core';
import express5 from 'express';
import express4 from 'express4';
import fc from 'fast-check';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { cyclesErrorHandler, cyclesMiddleware, cyclesRoute } from '../src/index.ts';

type Outcome = 'ok' | 'client-error' | 'server-error' | 'throws';

/** What a route does with its hold, and the statuses it may answer (429 when its hold did not fit). */
const OUTCOMES: Record<Outcome, number> = { ok: 200, 'client-error': 400, 'server-error': 503, throws: 500 };

const plan = fc.record({
  budget: fc.integer({ min: 0, max: 400 }),
  requests: fc.array(
    fc.record({
      estimate: fc.integer({ min: 1, max: 80 }),
      outcome: fc.constantFrom<Outcome>('ok', 'client-error', 'server-error', 'throws'),
      delayMs: fc.integer({ min: 0, max: 3 }),
    }),
    { minLength: 1, maxLength: 25 },
  ),
});

describe.each([
  { name: 'Express 5', express: express5, asyncErrors: true },
  { name: 'Express 4', express: express4, asyncErrors: false },
])('cyclesRoute settlement on $name (property)', ({ express, asyncErrors }) => {
  it('concurrent requests with mixed outcomes: never over budget, every hold settled exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(plan, async ({ budget, requests }) => {
        const events: CyclesEvent[] = [];
        const cycles = createCycles({
          heartbeat: false,
          ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: budget }],
          onEvent: (event) => {
            events.push(event);
          },
        });
        const app = express();
        app.use(cyclesMiddleware({ cycles, subject: () => ({ tenant: 'acme' }), budgetHeaders: false }));
        app.get(
          '/work/:index',
          cyclesRoute({ estimate: (incoming) => requests[Number(incoming.params.index)]!.estimate }),
          async (incoming, response, next) => {
            const { outcome, delayMs } = requests[Number(incoming.params.index)]!;
            await sleep(delayMs);
            if (outcome === 'throws') {
              const error = new Error('handler failed');
              if (asyncErrors) throw error;
              return next(error);
            }
            response.status(OUTCOMES[outcome]).json({ outcome });
          },
        );
        app.use(cyclesErrorHandler());
        const server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        try {
          const { port } = server.address() as AddressInfo;
          const responses = await Promise.all(
            requests.map((_, index) => request(`http://127.0.0.1:${port}`).get(`/work/${index}`)),
          );
          let expectedSpend = 0;
          responses.forEach((response, index) => {
            const { outcome, estimate } = requests[index]!;
            expect([OUTCOMES[outcome], 429]).toContain(response.status);
            // Holds are committed below 500, released otherwise; denied requests held nothing.
            if (response.status !== 429 && response.status < 500) expectedSpend += estimate;
          });
          const granted = events.filter((event) => event.type === 'decision');
          await vi.waitFor(
            () => {
              const settled = events.filter((event) => event.type === 'commit' || event.type === 'release');
              expect(settled).toHaveLength(granted.length);
            },
            { timeout: 10_000, interval: 10 },
          );
          const settledIds = events.flatMap((event) =>
            event.type === 'commit' || event.type === 'release' ? [event.reservationId] : [],
          );
          expect(new Set(settledIds).size).toBe(settledIds.length);
          expect(granted).toHaveLength(responses.filter((response) => response.status !== 429).length);
          const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
          const row = balances.find((balance) => balance.scopePath === 'tenant:acme');
          expect(row?.reserved?.amount ?? 0).toBe(0);
          expect(row?.spent?.amount ?? 0).toBe(expectedSpend);
          expect(expectedSpend).toBeLessThanOrEqual(budget);
        } finally {
          server.close();
          await cycles.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});
