// One series of burn-rate windows (a scope, a unit, a window length): the spend of each recent window
// and where the series' history began, kept beside the ledger so every server adds to the same one. The
// rule is core's `burn-rate.ts` (GOV `EventDataBurnRateAnomaly`): a window's baseline is the mean spend
// of the `baselineWindows` windows before it, counting only windows since the history began: the first
// spend, or the first spend after more than a whole baseline of empty windows (an idle scope starts
// afresh). The same steps run in this process (`BurnSeries`) and in Redis (`BURN_SERIES_LUA`, atomic,
// so two servers adding at once cannot both start a history).

/** Windows kept beyond the baseline, for deltas a slow server adds late. */
const LATE_WINDOWS = 2;

/** A series in this process (the memory ledger's counters). */
export class BurnSeries {
  private since = 0;
  private last: number | undefined;
  private readonly spends = new Map<number, number>();
  /** Past this time the series is idle (its next spend starts afresh): it may be dropped. */
  until = 0;

  constructor(
    private readonly baselineWindows: number,
    private readonly windowMs: number,
  ) {}

  /** Adds a spend to window `window`; answers the window's spend and its baseline. */
  add(window: number, amount: number, now: number): { spent: number; baseline: number } {
    const n = this.baselineWindows;
    if (this.last === undefined || window - this.last > n) {
      this.spends.clear();
      this.since = window;
      this.last = window;
    } else {
      this.last = Math.max(this.last, window);
      this.since = Math.min(this.since, window);
    }
    const spent = (this.spends.get(window) ?? 0) + amount;
    this.spends.set(window, spent);
    const depth = Math.min(n, window - this.since);
    let sum = 0;
    for (let back = 1; back <= depth; back++) sum += this.spends.get(window - back) ?? 0;
    if (this.spends.size > n + LATE_WINDOWS + 6) {
      for (const kept of this.spends.keys()) {
        if (kept < this.last - n - LATE_WINDOWS) this.spends.delete(kept);
      }
    }
    this.until = now + (n + 1 + LATE_WINDOWS) * this.windowMs;
    return { spent, baseline: depth > 0 ? sum / depth : 0 };
  }
}

/**
 * The same steps on a Redis hash (`since`, `last`, and `w<index>` per window). KEYS[1]: the series;
 * ARGV: window, amount, baseline windows, window ms. Answers [spent, sum of the baseline's windows, depth];
 * the sum as text with all 17 digits (a Lua number's own `tostring` keeps 14).
 */
export const BURN_SERIES_LUA = `
local key = KEYS[1]
local w = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
local ms = tonumber(ARGV[4])
local late = ${LATE_WINDOWS}
local last = tonumber(redis.call('HGET', key, 'last'))
local since = tonumber(redis.call('HGET', key, 'since'))
if last == nil or w - last > n then
  redis.call('DEL', key)
  since = w
  last = w
  redis.call('HSET', key, 'since', since, 'last', last)
else
  if w > last then last = w; redis.call('HSET', key, 'last', last) end
  if w < since then since = w; redis.call('HSET', key, 'since', since) end
end
local spent = redis.call('HINCRBY', key, 'w' .. w, ARGV[2])
local depth = math.min(n, w - since)
local sum = 0
if depth > 0 then
  local fields = {}
  for back = 1, depth do fields[back] = 'w' .. (w - back) end
  for _, value in ipairs(redis.call('HMGET', key, unpack(fields))) do sum = sum + (tonumber(value) or 0) end
end
if redis.call('HLEN', key) > n + late + 8 then
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, 1) == 'w' and tonumber(string.sub(field, 2)) < last - n - late then
      redis.call('HDEL', key, field)
    end
  end
end
redis.call('PEXPIRE', key, (n + 1 + late) * ms)
return {spent, string.format('%.17g', sum), depth}
`;
