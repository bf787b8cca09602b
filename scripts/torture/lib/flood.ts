// A noisy tenant floods retention (finished reservations) and idempotency (zero-amount events); then
// another tenant's same-key commit, event and reserve retries must still replay, and its LLM call
// whose hold expired meanwhile must still be charged (the expired-hold event fallback).

import type { Tally } from './figures.ts';
import { modelCommit, modelEvent, modelReserve } from './model.ts';
import { answerOf, describeError } from './outcome.ts';
import { asTenant, type Target } from './targets.ts';
import { ACTION, type CampaignTenant, checkBalances, provisionTenant, UNIT } from './tenants.ts';
import { MODEL, usdTenant } from './usd.ts';

export interface FloodOptions {
  /** Finished reservations the noisy tenant makes (≥ 10,050 reaches today's shared cap). */
  reservations: number;
  /** Zero-amount events the noisy tenant posts (≥ 101,000 reaches the memory ledger's shared cap). */
  events: number;
  /** The event flood stops here even if short of `events` (HTTP is slow). */
  timeBoundMs: number;
  concurrency: number;
  /**
   * The noisy tenant calls the ledger behind the server directly (as its tenant) instead of over
   * HTTP: the quick campaign's way to reach the caps in seconds. The victim always uses the target.
   */
  floodInProcess?: boolean;
  /**
   * How the noisy tenant finishes its reservations: `release` (2 calls each) or `expiry` (1 call each,
   * then the clock passes their TTL and the sweeper expires them all; what HTTP can afford).
   */
  finishBy?: 'release' | 'expiry';
  prefix: string;
  replay: string;
}

/** Runs `count` calls of `work(index)`, `concurrency` at a time, until done or past `deadline`. */
async function pool(
  count: number,
  concurrency: number,
  deadline: number,
  work: (index: number) => Promise<void>,
) {
  let next = 0;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (next < count && performance.now() < deadline) await work(next++);
  });
  await Promise.all(lanes);
  return next;
}

export async function runFlood(
  target: Target,
  tally: Tally,
  options: FloodOptions,
): Promise<Record<string, number>> {
  const where = (what: string) => `${target.label} ${options.replay}: ${what}`;
  const victim: CampaignTenant = await provisionTenant(target, `${options.prefix}victim`, [
    { allocated: 1_000_000_000, overdraftLimit: 0 },
    { allocated: 100_000_000, overdraftLimit: 0 },
  ]);
  const noisy = await provisionTenant(target, `${options.prefix}noisy`, [
    { allocated: 1_000_000_000, overdraftLimit: 0 },
    { allocated: 1_000_000_000, overdraftLimit: 0 },
  ]);
  const guarded = await usdTenant(target, `${options.prefix}victimusd`, 10_000);
  const key = (name: string) => `${options.prefix}${name}`;

  // The victim's work before the flood: a finished reservation, an event, a live hold, an LLM call.
  const finishedReserve = {
    idempotencyKey: key('r1'),
    subject: victim.subject,
    action: ACTION,
    estimate: { unit: UNIT, amount: 1000 },
    ttlMs: 3_600_000,
  };
  const r1 = await victim.authority.reserve(finishedReserve);
  modelReserve(victim.model, 1000);
  const commit = { idempotencyKey: key('c1'), actual: { unit: UNIT, amount: 300 } };
  const c1 = await victim.authority.commit(r1.reservationId as string, commit);
  modelCommit(victim.model, 1000, 300, 'REJECT');
  const event = {
    idempotencyKey: key('e1'),
    subject: victim.subject,
    action: ACTION,
    actual: { unit: UNIT, amount: 500 },
  };
  const e1 = await victim.authority.createEvent(event);
  modelEvent(victim.model, 500, 'REJECT');
  const liveReserve = {
    ...finishedReserve,
    idempotencyKey: key('r2'),
    estimate: { unit: UNIT, amount: 2000 },
  };
  const r2 = await victim.authority.reserve(liveReserve);
  modelReserve(victim.model, 2000);
  const call = await guarded.cycles.beginLlmCall({ model: MODEL, inputTokens: 2000, maxOutputTokens: 1000 });
  // The call's hold expires (TTL 10 s + grace 5 s) and is swept before the answer comes back.
  target.clock.advance(15_001);
  await target.admin.sweepExpired();

  const noisyAuthority =
    options.floodInProcess === true ? asTenant(target.admin, noisy.name) : noisy.authority;
  const started = performance.now();
  let floodOperations = 0;
  const byExpiry = options.finishBy === 'expiry';
  const finished = await pool(
    options.reservations,
    options.concurrency,
    Number.POSITIVE_INFINITY,
    async (index) => {
      const response = await noisyAuthority.reserve({
        idempotencyKey: key(`n-r${index}`),
        subject: noisy.subject,
        action: ACTION,
        estimate: { unit: UNIT, amount: 1 },
        ttlMs: 1000,
        gracePeriodMs: 0,
      });
      floodOperations += 1;
      if (byExpiry) return;
      await noisyAuthority.release(response.reservationId as string, { idempotencyKey: key(`n-x${index}`) });
      floodOperations += 1;
    },
  );
  if (byExpiry) {
    target.clock.advance(1001);
    await target.admin.sweepExpired();
  }
  let refusedEvents = 0;
  const events = await pool(
    options.events,
    options.concurrency,
    performance.now() + options.timeBoundMs,
    async (index) => {
      try {
        await noisyAuthority.createEvent({
          idempotencyKey: key(`n-e${index}`),
          subject: noisy.subject,
          action: ACTION,
          actual: { unit: UNIT, amount: 0 },
        });
      } catch (error) {
        // The noisy tenant reaching its own cap is the defence working: its own new work waits (429).
        if ((error as { code?: string }).code !== 'LIMIT_EXCEEDED') throw error;
        refusedEvents += 1;
      }
      floodOperations += 1;
    },
  );
  // The sweeper runs every few seconds in production; here it runs once the flood is in.
  await target.admin.sweepExpired();
  const floodSeconds = (performance.now() - started) / 1000;

  // The victim retries with the same keys: every one must replay, and charge nothing again.
  const replays: [string, () => Promise<unknown>, unknown][] = [
    [
      'same-key commit retry',
      async () => (await victim.authority.commit(r1.reservationId as string, commit)).charged.amount,
      c1.charged.amount,
    ],
    ['same-key event retry', async () => (await victim.authority.createEvent(event)).eventId, e1.eventId],
    [
      'same-key retry of a finished reserve',
      async () => (await victim.authority.reserve(finishedReserve)).reservationId,
      r1.reservationId,
    ],
    [
      'same-key retry of a live reserve',
      async () => (await victim.authority.reserve(liveReserve)).reservationId,
      r2.reservationId,
    ],
  ];
  for (const [label, send, expected] of replays) {
    const answer = await answerOf(send);
    const context = where(
      `${label} after ${finished} finished reservations and ${events} events of another tenant`,
    );
    if (!answer.ok) {
      tally.incident(
        answer.code === 'UNTYPED' ? 'untyped errors' : 'broken replays',
        context,
        answer.code === 'UNTYPED' ? describeError(answer.error) : `answered ${answer.code}`,
      );
    } else if (answer.value !== expected) {
      tally.incident(
        'broken replays',
        context,
        `answered ${String(answer.value)}, first ${String(expected)}`,
      );
      if (label.includes('reserve') && typeof answer.value === 'string') {
        // A second hold: released here, so the balances below judge only charges.
        await answerOf(() =>
          victim.authority.release(answer.value as string, { idempotencyKey: key(`undo-${label}`) }),
        );
      }
    }
  }
  await checkBalances(tally, victim, where('victim balances after the flood and the retries'));

  // The LLM call's answer arrives after its hold expired and aged out: the charge must still land.
  const before = await guarded.counters();
  const settled = await answerOf(() => call.commit({ inputTokens: 2000, outputTokens: 700 }));
  const after = await guarded.counters();
  if (after.spent - before.spent <= 0) {
    tally.incident(
      'lost charges',
      where('LLM call committed after its hold expired, during the flood'),
      `charged ${after.spent - before.spent} (${settled.ok ? 'commit resolved' : describeError(settled.error)})`,
    );
  }
  await answerOf(() =>
    victim.authority.release(r2.reservationId as string, { idempotencyKey: key('cleanup') }),
  );
  await guarded.cycles.close();
  return {
    'flood: finished reservations': finished,
    'flood: zero-amount events': events,
    'flood: noisy events refused by its own cap (429)': refusedEvents,
    'flood: seconds': Math.round(floodSeconds * 10) / 10,
    'flood: sent in-process': options.floodInProcess === true ? 1 : 0,
    operations: floodOperations + 12,
  };
}
