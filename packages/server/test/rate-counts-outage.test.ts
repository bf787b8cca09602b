import { LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import { ManualClock } from '@cycles-guard/core/testing';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import { createRedisLedger, type RedisLedger } from '@cycles-guard/redis';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CountDelta,
  MemoryRateCounts,
  type RateCounts,
  RedisRateCounts,
} from '../src/webhooks/rate-counts.ts';
import { MAX_UNFLUSHED, RateWatch } from '../src/webhooks/rate-watch.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { useRedisServer } from './support/redis-server.ts';

// Rate counts survive an unreachable counter store: a batch that cannot be added is kept (summed per
// counter, so bounded by the counters, not the samples) and added by a later flush, so a spike whose
// samples straddle a Redis outage still fires, with the whole count. A real redis-server stopped and
// restarted under the watch; and fault injection on the in-process counters.

const redis = useRedisServer();

/** A watch that flushes only when told (the timer is an hour). */
function watchOver(log: LedgerEventLog, counts: RateCounts, clock: ManualClock): RateWatch {
  return new RateWatch(log, counts, () => [], { now: () => clock.now(), flushMs: 3_600_000 });
}

function collect(log: LedgerEventLog): ProtocolEvent[] {
  const events: ProtocolEvent[] = [];
  log.subscribe((event) => {
    events.push(event);
  });
  return events;
}

describe('rate counts across a Redis outage', () => {
  it('keep what a failed flush could not add, and fire the spike with the whole count once Redis is back', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
    const ledger = createRedisLedger({
      url: redis.server.url,
      keyPrefix: 'outage:',
      events: { burnRate: { windowMs: 60_000 } },
      clock,
    }) as RedisLedger;
    const log = ledger.events as LedgerEventLog;
    const published = collect(log);
    const watch = watchOver(log, new RedisRateCounts(ledger.client, 'outage:'), clock);
    try {
      for (let i = 0; i < 15; i++) watch.sample('denial_rate', 'acme');
      watch.spent({ scope: 'tenant:acme', unit: 'TOKENS', amount: 10, remaining: 1000 });
      await watch.flush();
      expect(watch.unflushedCount).toBe(0);

      await redis.server.stop();
      for (let i = 0; i < 5; i++) watch.sample('denial_rate', 'acme');
      for (let i = 0; i < 3; i++) watch.hit('denial_rate', 'acme');
      clock.advance(60_000); // the next burn window (1 min): 10x the one before
      watch.spent({ scope: 'tenant:acme', unit: 'TOKENS', amount: 100, remaining: 900 });
      await watch.flush();
      // Still in the same 5-minute rate window: nothing is lost, nothing fired.
      expect(watch.unflushedCount).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) watch.sample('denial_rate', 'acme');
      await watch.flush();
      expect(published.filter((event) => event.event_type !== 'reservation.denied')).toEqual([]);

      await redis.server.restart();
      await watch.flush();
      expect(watch.unflushedCount).toBe(0);
      expect(watch.dropped).toBe(0);
      const spikes = published.filter((event) => event.event_type === 'reservation.denial_rate_spike');
      // 15 before, 5 + 3 denials + 3 during: 26 samples, 3 hits (11.5 % of at least 20). Dropping the
      // failed batch would leave 18 samples, under the 20 a window needs.
      expect(spikes.map((spike) => spike.data)).toEqual([
        expect.objectContaining({ metric: 'denial_rate', threshold_rate: 0.1, sample_count: 26 }),
      ]);
      const anomalies = published.filter((event) => event.event_type === 'budget.burn_rate_anomaly');
      expect(anomalies.map((anomaly) => anomaly.data)).toEqual([
        expect.objectContaining({ scope: 'tenant:acme', baseline_rate: 10, current_rate: 100 }),
      ]);
      for (const event of [...spikes, ...anomalies]) expect(govSchemaProblems('Event', event)).toEqual([]);
      expect(govSchemaProblems('EventDataRateSpike', spikes[0]!.data)).toEqual([]);
      expect(govSchemaProblems('EventDataBurnRateAnomaly', anomalies[0]!.data)).toEqual([]);
      await watch.flush();
      expect(published.filter((event) => event.event_type.endsWith('_spike'))).toHaveLength(1);
    } finally {
      await watch.close();
      await ledger.close();
    }
  });
});

/** In-process counters that fail the calls `failing` says to (fault injection). */
class FlakyCounts extends MemoryRateCounts {
  failing = { add: false, claim: 0 };
  override async add(deltas: readonly CountDelta[]) {
    if (this.failing.add) throw new Error('counters unreachable');
    return super.add(deltas);
  }
  override async claim(key: string, tenant: string, ttlMs: number) {
    if (this.failing.claim > 0) {
      this.failing.claim--;
      throw new Error('claim lost');
    }
    return super.claim(key, tenant, ttlMs);
  }
}

describe('rate counts under injected faults', () => {
  it('count every sample exactly once whichever flushes or claims fail, and fire once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            samples: fc.integer({ min: 0, max: 6 }),
            hits: fc.integer({ min: 0, max: 2 }),
            addFails: fc.boolean(),
            claimFails: fc.integer({ min: 0, max: 2 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (rounds) => {
          const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
          const log = new LedgerEventLog({}, clock);
          const published = collect(log);
          const counts = new FlakyCounts(() => clock.now());
          const watch = watchOver(log, counts, clock);
          let samples = 0;
          let hits = 0;
          for (const round of rounds) {
            counts.failing = { add: round.addFails, claim: round.claimFails };
            for (let i = 0; i < round.samples; i++) watch.sample('denial_rate', 'acme');
            for (let i = 0; i < round.hits; i++) watch.hit('denial_rate', 'acme');
            samples += round.samples + round.hits;
            hits += round.hits;
            await watch.flush();
          }
          // Then, the counters healthy, a last batch that ends with a hit at or past the threshold: the
          // spike has fired once, either at an earlier flush or at this one.
          counts.failing = { add: false, claim: 0 };
          for (; samples < 20; samples++) watch.sample('denial_rate', 'acme');
          do {
            watch.hit('denial_rate', 'acme');
            hits++;
            samples++;
          } while (hits / samples < 0.1);
          await watch.flush();
          await watch.flush();
          await watch.close();
          const [total] = await counts.add([
            { key: `denial_rate:300000:${clock.now()}:acme`, tenant: 'acme', samples: 0, hits: 0, ttlMs: 1 },
          ]);
          expect(total).toEqual({ samples, hits });
          const spikes = published.filter((event) => event.event_type === 'reservation.denial_rate_spike');
          expect(spikes).toHaveLength(1);
          expect(spikes[0]!.data!.sample_count).toBeGreaterThanOrEqual(20);
          expect(spikes[0]!.data!.sample_count).toBeLessThanOrEqual(samples);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keep at most MAX_UNFLUSHED counters while the counters are unreachable, counting the rest as dropped', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
    const log = new LedgerEventLog({}, clock);
    const counts = new FlakyCounts(() => clock.now());
    counts.failing.add = true;
    const watch = watchOver(log, counts, clock);
    const tenants = MAX_UNFLUSHED + 500;
    for (let i = 0; i < tenants; i++) watch.sample('denial_rate', `t${i}`);
    await watch.flush();
    for (let i = 0; i < tenants; i++) watch.sample('denial_rate', `t${i}`);
    expect(watch.unflushedCount).toBe(MAX_UNFLUSHED);
    expect(watch.dropped).toBe(1000);
    counts.failing.add = false;
    await watch.close();
    expect(watch.unflushedCount).toBe(0);
  });
});
