// `call.fail()` must charge unless the caller says the provider was never reached (never $0): with
// `{}` (JavaScript callers, untyped paths) and with only `partialUsage`, the hold is charged.

import type { Tally } from './figures.ts';
import { answerOf, describeError } from './outcome.ts';
import type { LlmCallFailure } from './packages.ts';
import type { Target } from './targets.ts';
import { MODEL, usdTenant } from './usd.ts';

const CASES: { label: string; failure: Partial<LlmCallFailure>; charges: boolean }[] = [
  { label: 'fail(err, {})', failure: {}, charges: true },
  {
    label: 'fail(err, { partialUsage })',
    failure: { partialUsage: { inputTokens: 1000, outputTokens: 40 } },
    charges: true,
  },
  { label: 'fail(err, { reachedProvider: true })', failure: { reachedProvider: true }, charges: true },
  { label: 'fail(err, { reachedProvider: false })', failure: { reachedProvider: false }, charges: false },
];

export async function runFailCharges(
  target: Target,
  tally: Tally,
  tenantName: string,
  replay: string,
): Promise<number> {
  const tenant = await usdTenant(target, tenantName);
  for (const { label, failure, charges } of CASES) {
    const where = `${target.label} ${replay}: ${label}`;
    const before = await tenant.counters();
    const call = await tenant.cycles.beginLlmCall({ model: MODEL, inputTokens: 1000, maxOutputTokens: 500 });
    // The untyped shapes are the point: a JavaScript caller can pass any of them.
    const answer = await answerOf(() =>
      call.fail(new Error('provider failed mid-call'), failure as LlmCallFailure),
    );
    if (!answer.ok)
      tally.incident(
        answer.code === 'UNTYPED' ? 'untyped errors' : 'model mismatches',
        where,
        describeError(answer.error),
      );
    const after = await tenant.counters();
    const charged = after.spent - before.spent;
    if (charges && charged <= 0)
      tally.incident(
        'lost charges',
        where,
        `charged ${charged} for a call that may have been billed (hold ${call.reserved})`,
      );
    if (!charges && charged !== 0)
      tally.incident(
        'double charges',
        where,
        `charged ${charged} for a call that never reached the provider`,
      );
    if (after.reserved !== before.reserved)
      tally.incident('leaked holds', where, `reserved ${before.reserved} → ${after.reserved}`);
  }
  await tenant.cycles.close();
  return CASES.length * 4;
}
