import { CyclesError } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { provision, type Step, start, step } from './support/group-steps.ts';
import { useRedis } from './support/server.ts';

// A reservation's stored record is one MessagePack pack of 22 values with its status second, active or
// ended: the form every release reads. During a rolling upgrade an earlier release settles and expires
// records this one wrote, so a record it would read as ACTIVE after its end could be charged twice.

const redis = useRedis();

// Decoded by Redis's own cmsgpack, as any release's scripts decode a record: [key, count, status].
const READ_RECORDS = `
local out = {}
for _, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if raw then
    local function count(...) return select('#', ...), select(2, ...) end
    local values, status = count(cmsgpack.unpack(raw))
    out[#out + 1] = { key, values, status }
  end
end
return out
`;

/** A reservation's status as the ledger reports it (an expired one is refused as such). */
async function reportedStatus(ledger: RedisLedger, id: string): Promise<string> {
  try {
    return (await ledger.getReservation(id)).status;
  } catch (error) {
    if (CyclesError.isInstance(error) && error.code === 'RESERVATION_EXPIRED') return 'EXPIRED';
    throw error;
  }
}

/** Every record under prefix: 22 values, the status the ledger reports second. */
async function expectRecords(client: Redis, ledger: RedisLedger, prefix: string, seen: Set<string>) {
  const keys = await client.keys(`${prefix}r:*`);
  if (keys.length === 0) return;
  const ids = keys.map((key) => key.slice(`${prefix}r:`.length));
  // Reads expire what is due first (lazily), so the stored records are read after one round of them.
  for (const id of ids) await reportedStatus(ledger, id);
  const records = (await client.eval(READ_RECORDS, keys.length, ...keys)) as Array<[string, number, string]>;
  expect(records).toHaveLength(keys.length);
  for (const [key, count, status] of records) {
    expect(count, key).toBe(22);
    expect(status, key).toBe(await reportedStatus(ledger, key.slice(`${prefix}r:`.length)));
    seen.add(status);
  }
}

const idle: Step[] = [{ kind: 'fund', amount: 1 }];
const everyStatus: Step[][] = [
  [
    { kind: 'reserve', key: 1 },
    { kind: 'reserve', key: 2 },
    { kind: 'reserve', key: 4 },
  ],
  [
    { kind: 'commit', hold: 0, amount: 10 },
    { kind: 'release', hold: 1 },
  ],
  idle,
  idle,
  idle,
  idle,
  idle,
  idle,
];

describe('the stored reservation record', () => {
  it('is 22 packed values with the status the ledger reports second, before and after its end (property)', async () => {
    const client = new Redis(redis.server.url);
    const seen = new Set<string>();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(step, { minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 8 }),
          async (groups) => {
            const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
            const prefix = redis.prefix();
            const ledger = redis.ledger({ clock, keyPrefix: prefix });
            await provision(ledger);
            const ids: string[] = [];
            let index = 0;
            for (const group of groups) {
              const known = [...ids];
              // Started in one turn: grouped settles take the group path (rows lent, grouped due index).
              await Promise.all(group.map((next: Step) => start(ledger, next, index++, known, ids)));
              // Read before the clock moves on: a hold past its expiry reads as expired, not as stored.
              await expectRecords(client, ledger, prefix, seen);
              clock.advance(7_000);
            }
            await ledger.close();
          },
        ),
        // Besides the random runs, one that meets every status for sure: three live holds (key 3 would be a
        // dry run), one committed, one released, the third left past its TTL (20 s) and grace.
        { numRuns: 20, examples: [[everyStatus]] },
      );
      // The property must have met active and ended records alike.
      expect(seen).toContain('ACTIVE');
      expect(seen).toContain('COMMITTED');
      expect(seen).toContain('RELEASED');
      expect(seen).toContain('EXPIRED');
    } finally {
      client.disconnect();
    }
  });
});
