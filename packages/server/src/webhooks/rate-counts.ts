import type { Ledger } from '@cycles-guard/core';
import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import type { LedgerStoreConfig } from '../config.ts';
import { BURN_SERIES_LUA, BurnSeries } from './burn-series.ts';

// The counters of the rate windows (`rate-watch.ts`): samples and hits per tenant, metric and window,
// added in batches. On Redis every server adds to the same counters, so a spike is judged on the total
// of all of them; a claim makes each spike fire once, whichever server sees it.

/** One window's counter and what to add to it. */
export interface CountDelta {
  /** Names the tenant, metric, window length and window start. */
  key: string;
  /** The tenant, for the Redis Cluster hash tag. */
  tenant: string;
  samples: number;
  hits: number;
  /** How long the counter must outlive its window's start. */
  ttlMs: number;
}

/** A scope's spend in one burn-rate window, and what to add to it. */
export interface SpendDelta {
  /** Names the window length, scope and unit (one series of windows). */
  series: string;
  /** The tenant, for the Redis Cluster hash tag. */
  tenant: string;
  /** The window's index (its start / its length). */
  window: number;
  /** Integer units spent. */
  amount: number;
  /** Windows the baseline averages. */
  baselineWindows: number;
  /** The window length. */
  windowMs: number;
}

/** A burn-rate window's spend so far and its baseline (mean spend per window before it; 0: none yet). */
export interface SpendTotals {
  spent: number;
  baseline: number;
}

/** Counters of rate windows. */
export interface RateCounts {
  /** Adds each delta; answers each counter's totals after, in order. */
  add(deltas: readonly CountDelta[]): Promise<{ samples: number; hits: number }[]>;
  /** Adds each spend to its series (see `burn-series.ts`); answers each window's totals after, in order. */
  addSpends(deltas: readonly SpendDelta[]): Promise<SpendTotals[]>;
  /** True the first time `key` is claimed (until `ttlMs` passes). */
  claim(key: string, tenant: string, ttlMs: number): Promise<boolean>;
}

/** In this process (the memory ledger). */
export class MemoryRateCounts implements RateCounts {
  private readonly counters = new Map<string, { samples: number; hits: number; until: number }>();
  private readonly claims = new Map<string, number>();
  private readonly series = new Map<string, BurnSeries>();
  private nextSweep = 0;

  constructor(private readonly now: () => number) {}

  async add(deltas: readonly CountDelta[]): Promise<{ samples: number; hits: number }[]> {
    const now = this.now();
    this.forgetEnded(now);
    return deltas.map(({ key, samples, hits, ttlMs }) => {
      const counter = this.counters.get(key) ?? { samples: 0, hits: 0, until: now + ttlMs };
      counter.samples += samples;
      counter.hits += hits;
      this.counters.set(key, counter);
      return { samples: counter.samples, hits: counter.hits };
    });
  }

  async addSpends(deltas: readonly SpendDelta[]): Promise<SpendTotals[]> {
    const now = this.now();
    this.forgetEnded(now);
    return deltas.map(({ series: key, window, amount, baselineWindows, windowMs }) => {
      let series = this.series.get(key);
      if (series === undefined) {
        series = new BurnSeries(baselineWindows, windowMs);
        this.series.set(key, series);
      }
      return series.add(window, amount, now);
    });
  }

  async claim(key: string, _tenant: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if ((this.claims.get(key) ?? 0) > now) return false;
    this.claims.set(key, now + ttlMs);
    return true;
  }

  /** Drops ended counters and claims, at most once a second (not on every batch). */
  private forgetEnded(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + 1000;
    for (const [key, counter] of this.counters) if (counter.until <= now) this.counters.delete(key);
    for (const [key, until] of this.claims) if (until <= now) this.claims.delete(key);
    for (const [key, series] of this.series) if (series.until <= now) this.series.delete(key);
  }
}

/**
 * In the ledger's Redis: one hash per window (`HINCRBY` samples and hits, `PEXPIRE`), one pipeline; one
 * hash per burn-rate series, added to by a script (`burn-series.ts`), one pipeline.
 */
export class RedisRateCounts implements RateCounts {
  constructor(
    private readonly client: RedisLedger['client'],
    private readonly prefix: string,
  ) {
    if (!('cyclesBurnAdd' in client)) {
      client.defineCommand('cyclesBurnAdd', { numberOfKeys: 1, lua: BURN_SERIES_LUA });
    }
  }

  /** The tenant's hash tag keeps its counters on one Cluster slot. */
  private keyOf(key: string, tenant: string): string {
    return `${this.prefix}rates:{${tenant}}:${key}`;
  }

  async add(deltas: readonly CountDelta[]): Promise<{ samples: number; hits: number }[]> {
    await whenConnected(this.client);
    const batches = this.client.isCluster ? deltas.map((delta) => [delta]) : [deltas];
    const totals = await Promise.all(
      batches.map(async (batch) => {
        const pipeline = this.client.pipeline();
        for (const { key, tenant, samples, hits, ttlMs } of batch) {
          const counter = this.keyOf(key, tenant);
          pipeline.hincrby(counter, 's', samples).hincrby(counter, 'h', hits).pexpire(counter, ttlMs);
        }
        const replies = (await pipeline.exec()) ?? [];
        return batch.map((_, index) => {
          const [samplesError, samplesTotal] = replies[3 * index] ?? [];
          const [hitsError, hitsTotal] = replies[3 * index + 1] ?? [];
          if (samplesError || hitsError) throw samplesError ?? hitsError;
          return { samples: Number(samplesTotal), hits: Number(hitsTotal) };
        });
      }),
    );
    return totals.flat();
  }

  async addSpends(deltas: readonly SpendDelta[]): Promise<SpendTotals[]> {
    await whenConnected(this.client);
    const batches = this.client.isCluster ? deltas.map((delta) => [delta]) : [deltas];
    const totals = await Promise.all(
      batches.map(async (batch) => {
        const pipeline = this.client.pipeline() as ReturnType<RedisLedger['client']['pipeline']> & BurnAdd;
        for (const { series, tenant, window, amount, baselineWindows, windowMs } of batch) {
          pipeline.cyclesBurnAdd(
            this.keyOf(`burn:${series}`, tenant),
            window,
            amount,
            baselineWindows,
            windowMs,
          );
        }
        const replies = (await pipeline.exec()) ?? [];
        return batch.map((_, index) => {
          const [error, reply] = replies[index] ?? [new Error('no reply')];
          if (error) throw error;
          const [spent, sum, depth] = (reply as [string, string, number]).map(Number) as [
            number,
            number,
            number,
          ];
          return { spent, baseline: depth > 0 ? sum / depth : 0 };
        });
      }),
    );
    return totals.flat();
  }

  async claim(key: string, tenant: string, ttlMs: number): Promise<boolean> {
    await whenConnected(this.client);
    return (await this.client.set(this.keyOf(`fired:${key}`, tenant), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
}

/** The burn script, as ioredis's `defineCommand` adds it to a pipeline. */
interface BurnAdd {
  cyclesBurnAdd(
    key: string,
    window: number,
    amount: number,
    baselineWindows: number,
    windowMs: number,
  ): unknown;
}

/** Counters beside the ledger: in its Redis, or in this process. */
export function openRateCounts(ledger: Ledger, store: LedgerStoreConfig, now: () => number): RateCounts {
  if (store.type === 'redis' && 'client' in ledger) {
    return new RedisRateCounts((ledger as RedisLedger).client, store.keyPrefix ?? 'cycles:');
  }
  return new MemoryRateCounts(now);
}
