import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useRedis } from './support/server.ts';

// Issue 17: under load the events of answered operations fell ever further behind (each once-alert
// claimed alone, one round trip after another: 10 s behind after 10 s of 50 server clients), so a crash
// lost them all and a subscription removed meanwhile never got them. Counted in round trips, not time:
// once every reserve is answered, a few PINGs on the ledger's own connection (answered after everything
// sent before them) must find every alert published, exactly once.

const redis = useRedis();

describe('Redis ledger events under concurrent load', () => {
  it('publishes every answered reserve’s threshold alert within a few round trips, once each', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 50, max: 250 }),
        fc.integer({ min: 1, max: 4 }),
        async (users, rounds) => {
          const published: ProtocolEvent[] = [];
          const prefix = redis.prefix();
          const ledger = redis.ledger({
            keyPrefix: prefix,
            events: { onEvent: (event) => void published.push(event) },
          });
          await ledger.addTemplate({ pattern: 'tenant:acme/agent:*', unit: 'TOKENS', allocated: 100 });
          let key = 0; // at most 1,000 users: the default template bound per tenant
          for (let round = 0; round < rounds; round++) {
            // A new user per reserve, its template budget taken past 80 %: one rising crossing each.
            await Promise.all(
              Array.from({ length: users }, () =>
                ledger.reserve({
                  idempotencyKey: `k${++key}`,
                  subject: { tenant: 'acme', agent: `user-${key}` },
                  action: { kind: 'llm.completion', name: 'm' },
                  estimate: { unit: 'TOKENS', amount: 90 },
                }),
              ),
            );
          }
          for (let trip = 0; trip < 4; trip++) await ledger.client.ping();
          const crossings = published.filter((event) => event.event_type === 'budget.threshold_crossed');
          expect(crossings).toHaveLength(users * rounds);
          expect(new Set(crossings.map((event) => event.scope)).size).toBe(users * rounds);
          await ledger.close();
        },
      ),
      { numRuns: 6 },
    );
  });

  it('claims an alert once across instances that raise it concurrently', async () => {
    const prefix = redis.prefix();
    const published: ProtocolEvent[] = [];
    const events = { onEvent: (event: ProtocolEvent) => void published.push(event) };
    const [a, b] = [0, 1].map(() => redis.ledger({ keyPrefix: prefix, events }));
    await a!.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    // 110 holds of 9 (990) on one budget of 1000, spread over two instances: 80 % and 95 % each cross once.
    const holds = await Promise.all(
      Array.from({ length: 110 }, (_, index) =>
        (index % 2 === 0 ? a! : b!).reserve({
          idempotencyKey: `h${index}`,
          subject: { tenant: 'acme' },
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: 9 },
        }),
      ),
    );
    expect(holds.filter((hold) => hold.decision === 'ALLOW')).toHaveLength(110);
    for (let trip = 0; trip < 4; trip++) await Promise.all([a!.client.ping(), b!.client.ping()]);
    const rising = published
      .filter((event) => event.event_type === 'budget.threshold_crossed')
      .map((event) => event.data!.threshold);
    expect(rising.sort()).toEqual([0.8, 0.95]);
  });
});
