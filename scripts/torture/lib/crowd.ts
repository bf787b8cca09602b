// The crowd: several processes settle holds on one shared tenant at once. No model can order their
// steps, so the checks are conservation: what the ledger spent equals what the workers were told
// they were charged, nothing stays held, and no scope spends past its budget.

import type { Tally } from './figures.ts';
import { answerOf, describeError } from './outcome.ts';
import type { BudgetAuthority, Ledger } from './packages.ts';
import { createRandom } from './random.ts';
import { ACTION, UNIT } from './tenants.ts';

export const CROWD = 'crowd';
const CROWD_SUBJECT = { tenant: CROWD, workspace: 'ws' };
const PATHS = [`tenant:${CROWD}`, `tenant:${CROWD}/workspace:ws`];

export async function provisionCrowd(admin: Ledger): Promise<void> {
  await admin.createLedger({ scope: PATHS[0] as string, unit: UNIT, allocated: 60_000 });
  await admin.createLedger({ scope: PATHS[1] as string, unit: UNIT, allocated: 40_000 });
}

/** One worker's share: `operations` reserve → commit/release (+ same-key retries), 8 at a time. */
export async function crowdSlice(
  authority: BudgetAuthority,
  tally: Tally,
  options: { seed: number; worker: number; operations: number; replay: string },
): Promise<{ charged: number; operations: number }> {
  const random = createRandom(options.seed);
  let charged = 0;
  let operations = 0;
  let next = 0;
  const where = (index: number) => `crowd worker ${options.worker} ${options.replay} hold ${index}`;
  const lane = async () => {
    while (next < options.operations) {
      const index = next++;
      const key = `crowd-${options.seed}-${options.worker}-${index}`;
      const estimate = random.int(1, 80);
      operations += 1;
      const reserve = await answerOf(() =>
        authority.reserve({
          idempotencyKey: `${key}-r`,
          subject: CROWD_SUBJECT,
          action: ACTION,
          estimate: { unit: UNIT, amount: estimate },
          overagePolicy: 'ALLOW_IF_AVAILABLE',
        }),
      );
      if (!reserve.ok) {
        if (reserve.code === 'UNTYPED')
          tally.incident('untyped errors', where(index), describeError(reserve.error));
        continue;
      }
      const id = reserve.value.reservationId as string;
      const actual = { unit: UNIT, amount: random.int(0, estimate + 20) };
      const settle = random.chance(0.8)
        ? () =>
            authority
              .commit(id, { idempotencyKey: `${key}-c`, actual })
              .then((response) => response.charged.amount)
        : () => authority.release(id, { idempotencyKey: `${key}-x` }).then(() => 0);
      operations += 1;
      const first = await answerOf(settle);
      if (!first.ok) {
        tally.incident(
          first.code === 'UNTYPED' ? 'untyped errors' : 'model mismatches',
          where(index),
          first.code === 'UNTYPED' ? describeError(first.error) : first.code,
        );
        continue;
      }
      charged += first.value;
      if (random.chance(0.3)) {
        operations += 1;
        const again = await answerOf(settle);
        if (!again.ok || again.value !== first.value) {
          tally.incident(
            'broken replays',
            where(index),
            `retry answered ${again.ok ? again.value : again.code}, first ${first.value}`,
          );
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return { charged, operations };
}

/** After every worker finished: spent == what they were charged, nothing held, nothing overspent. */
export async function checkCrowd(
  admin: Ledger,
  tally: Tally,
  charged: number,
  replay: string,
): Promise<void> {
  for (const path of PATHS) {
    const state = await admin.getLedger(path, UNIT);
    if (state === undefined) continue;
    const where = `crowd ${replay} ${path}`;
    if (state.spent > charged)
      tally.incident('double charges', where, `spent ${state.spent}, workers were charged ${charged}`);
    if (state.spent < charged)
      tally.incident('lost charges', where, `spent ${state.spent}, workers were charged ${charged}`);
    if (state.reserved !== 0)
      tally.incident(
        state.reserved > 0 ? 'leaked holds' : 'overspend',
        where,
        `reserved ${state.reserved} after every hold settled`,
      );
    if (state.spent > state.allocated)
      tally.incident('overspend', where, `spent ${state.spent} of ${state.allocated}`);
  }
}
