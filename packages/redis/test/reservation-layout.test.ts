import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { normalize, provision, type Step, start, step } from './support/group-steps.ts';
import { useRedis } from './support/server.ts';

// A reservation's stored record: reserve writes its first part, its end appends the rest (since
// 2026-12-07). Records written by the release before (all 22 values in one pack, the status second) must
// read and settle exactly as records of this layout: the same random steps run on two prefixes, one
// of which has every record rewritten into the earlier layout before each step, answer alike.

const redis = useRedis();

// What the release before wrote for a record of this layout: 12 values (active) or 12 + 11 (ended)
// become the 22 of one pack, the end's status in second place.
const TO_EARLIER = `
local function earlier(count, ...)
  local v = { ... }
  if count == 22 then return nil end
  local status, tail = v[2], {}
  if count == 23 then
    status = v[13]
    for i = 14, 23 do tail[i - 13] = v[i] end
  end
  return cmsgpack.pack(v[1], status, v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], tail[1],
    tail[2], tail[3], tail[4], tail[5], tail[6], tail[7], tail[8], tail[9], tail[10])
end
local active, ended = 0, 0
for _, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  local function count(...) return select('#', ...), ... end
  local values = raw and count(cmsgpack.unpack(raw))
  local old = raw and earlier(count(cmsgpack.unpack(raw)))
  if old then
    redis.call('SET', key, old)
    if values == 12 then active = active + 1 else ended = ended + 1 end
  end
end
return { active, ended }
`;

/** Rewrites every reservation record under the prefix into the earlier layout, counting them. */
async function rewriteEarlier(client: Redis, prefix: string, counts: { active: number; ended: number }) {
  const keys = await client.keys(`${prefix}r:*`);
  if (keys.length === 0) return;
  const [active, ended] = (await client.eval(TO_EARLIER, keys.length, ...keys)) as [number, number];
  counts.active += active;
  counts.ended += ended;
}

type LayoutStep = Step | { kind: 'advance'; ms: number };

const layoutStep: fc.Arbitrary<LayoutStep> = fc.oneof(
  { weight: 6, arbitrary: step },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 30_000 }) }),
  },
);

function settled<T>(promise: Promise<T>) {
  return promise.then(
    (ok) => ({ ok }),
    (error: { code?: string; message?: string }) => ({ error: error.code, message: error.message }),
  );
}

async function readAndClose(ledger: RedisLedger, ids: string[]) {
  if (ledger.closeTenant === undefined) throw new Error('the Redis ledger closes tenants');
  const reads = [];
  for (const id of ids) reads.push(await settled(ledger.getReservation(id)));
  return {
    reads,
    list: await settled(ledger.listReservations({ tenant: 'acme' })),
    balances: await settled(ledger.getBalances({ tenant: 'acme' })),
    closed: await settled(ledger.closeTenant('acme', { status: 'CLOSED' })),
    after: await settled(ledger.listReservations({ tenant: 'acme' })),
  };
}

describe('reservation records of the layout before 2026-12-07', () => {
  it('read, settle, replay, expire and close exactly as records of this layout (property)', async () => {
    const client = new Redis(redis.server.url);
    const rewritten = { active: 0, ended: 0 };
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(layoutStep, { minLength: 5, maxLength: 40 }), async (steps) => {
          const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
          const current = redis.ledger({ clock });
          const earlierPrefix = redis.prefix();
          const earlier = redis.ledger({ clock, keyPrefix: earlierPrefix });
          await provision(current);
          await provision(earlier);
          const ids: Record<'current' | 'earlier', string[]> = { current: [], earlier: [] };
          for (const [index, next] of steps.entries()) {
            if (next.kind === 'advance') {
              clock.advance(next.ms);
              continue;
            }
            const a = await start(current, next, index, [...ids.current], ids.current);
            await rewriteEarlier(client, earlierPrefix, rewritten);
            const b = await start(earlier, next, index, [...ids.earlier], ids.earlier);
            expect(normalize(b, ids.earlier)).toEqual(normalize(a, ids.current));
          }
          await rewriteEarlier(client, earlierPrefix, rewritten);
          const a = await readAndClose(current, ids.current);
          const b = await readAndClose(earlier, ids.earlier);
          expect(normalize(b, ids.earlier)).toEqual(normalize(a, ids.current));
          await current.close();
          await earlier.close();
        }),
        { numRuns: 25 },
      );
      // The property must have met records of the earlier layout, active and ended alike.
      expect(rewritten.active).toBeGreaterThan(0);
      expect(rewritten.ended).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  });
});
