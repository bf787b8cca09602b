import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CyclesEvent, type Cycles as CyclesInstance, createCycles } from '@cycles-guard/core';
import { BadRequestException, Controller, Get, type INestApplication, Query } from '@nestjs/common';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CyclesBudget, CyclesModule } from '../src/index.ts';
import { startNestApp } from './support/nest-app.ts';

const BUDGET = 200;
type Outcome = 'ok' | 'bad-request' | 'throws';
const STATUS: Record<Outcome, number> = { ok: 200, 'bad-request': 400, throws: 500 };

/** Does what the query says after `delay` ms: answers, throws an HttpException, or throws. */
async function work(outcome: string, delay: string): Promise<unknown> {
  await sleep(Number(delay));
  if (outcome === 'bad-request') throw new BadRequestException('bad input');
  if (outcome === 'throws') throw new Error('handler failed');
  return { done: true };
}

@Controller('work')
class WorkController {
  @CyclesBudget({ estimate: 10 })
  @Get('10')
  small(@Query('outcome') outcome: string, @Query('delay') delay: string): Promise<unknown> {
    return work(outcome, delay);
  }

  @CyclesBudget({ estimate: 35 })
  @Get('35')
  medium(@Query('outcome') outcome: string, @Query('delay') delay: string): Promise<unknown> {
    return work(outcome, delay);
  }

  @CyclesBudget({ estimate: 80 })
  @Get('80')
  large(@Query('outcome') outcome: string, @Query('delay') delay: string): Promise<unknown> {
    return work(outcome, delay);
  }
}

const plan = fc.array(
  fc.record({
    estimate: fc.constantFrom(10, 35, 80),
    outcome: fc.constantFrom<Outcome>('ok', 'bad-request', 'throws'),
    delayMs: fc.integer({ min: 0, max: 3 }),
  }),
  { minLength: 1, maxLength: 20 },
);

describe.each([['express' as const], ['fastify' as const]])(
  '@Cycles estimate holds on %s (property)',
  (platform) => {
    const events: CyclesEvent[] = [];
    let cycles: CyclesInstance;
    let app: INestApplication;
    let url: string;

    beforeAll(async () => {
      // Every run spends from a fresh tenant, created from this template with BUDGET.
      cycles = createCycles({
        heartbeat: false,
        templates: [{ pattern: 'tenant:*', unit: 'USD_MICROCENTS', allocated: BUDGET }],
        onEvent: (event) => {
          events.push(event);
        },
      });
      const subject = (request: unknown) => ({
        tenant: (request as { headers: Record<string, string> }).headers['x-tenant'],
      });
      ({ app, url } = await startNestApp(platform, {
        imports: [CyclesModule.forRoot({ cycles, subject, budgetHeaders: false })],
        controllers: [WorkController],
      }));
    });
    afterAll(async () => {
      await app.close();
      await cycles.close();
    });

    it('concurrent handlers with mixed outcomes: never over budget, every hold settled exactly once', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(plan, async (requests) => {
          run += 1;
          const tenant = `run-${run}`;
          events.length = 0;
          const responses = await Promise.all(
            requests.map(async ({ estimate, outcome, delayMs }) => {
              const response = await fetch(`${url}/work/${estimate}?outcome=${outcome}&delay=${delayMs}`, {
                headers: { 'x-tenant': tenant },
              });
              await response.arrayBuffer();
              return response.status;
            }),
          );
          let expectedSpend = 0;
          responses.forEach((status, index) => {
            const { outcome, estimate } = requests[index]!;
            expect([STATUS[outcome], 429]).toContain(status);
            // Committed when the handler completes, released when it throws; denied requests held nothing.
            if (status === 200) expectedSpend += estimate;
          });
          const granted = events.filter((event) => event.type === 'decision');
          expect(granted).toHaveLength(responses.filter((status) => status !== 429).length);
          await vi.waitFor(
            () =>
              expect(
                events.filter((event) => event.type === 'commit' || event.type === 'release'),
              ).toHaveLength(granted.length),
            { timeout: 10_000, interval: 10 },
          );
          const settledIds = events.flatMap((event) =>
            event.type === 'commit' || event.type === 'release' ? [event.reservationId] : [],
          );
          expect(new Set(settledIds).size).toBe(settledIds.length);
          const { balances } = await cycles.authority.getBalances({ tenant });
          const row = balances.find((balance) => balance.scopePath === `tenant:${tenant}`);
          expect(row?.reserved?.amount ?? 0).toBe(0);
          expect(row?.spent?.amount ?? 0).toBe(expectedSpend);
          expect(expectedSpend).toBeLessThanOrEqual(BUDGET);
        }),
        { numRuns: 25 },
      );
    });
  },
);
