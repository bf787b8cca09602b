// The randomized, model-based, multi-tenant campaign: every step is checked against the reference
// model (outcome and, after it, every budgeted scope's allocated/remaining/reserved/spent/debt).

import { badInputCatalog, tryBadInput } from './bad-inputs.ts';
import type { Tally } from './figures.ts';
import { type ModelOutcome, modelCommit, modelEvent, modelRelease, modelReserve } from './model.ts';
import { answerOf, describeError } from './outcome.ts';
import { OVERAGE_POLICIES, type OveragePolicy } from './packages.ts';
import { createRandom, type Random } from './random.ts';
import type { Target } from './targets.ts';
import {
  ACTION,
  type BudgetShape,
  type CampaignTenant,
  checkBalances,
  provisionTenant,
  UNIT,
} from './tenants.ts';

export interface CampaignOptions {
  /** Seed of this run (printed with every incident). */
  seed: number;
  /** Prefix of this run's tenant names (unique per run and process on a shared store). */
  tenantPrefix: string;
  steps: number;
  tenants: number;
  /** Moves the manual clock (expiry, commits racing expiry). Off where processes share a store. */
  timeSteps: boolean;
  /** Where the replay coordinates are printed, e.g. `pnpm torture memory --seed 7`. */
  replay: string;
}

const MAX_EXTENSIONS = 10;
/** Clock moves stop here, well inside every retention window the protocol implies (1 h). */
const MAX_ELAPSED_MS = 40 * 60_000;

interface CampaignHold {
  tenant: CampaignTenant;
  id: string;
  held: number;
  policy: OveragePolicy;
  status: 'ACTIVE' | 'FINALIZED' | 'EXPIRED';
  expiresAtMs: number;
  graceMs: number;
  extensions: number;
}

/** A call that succeeded, kept to be sent again with the same key: it must answer the same. */
interface Replayable {
  tenant: CampaignTenant;
  label: string;
  send(): Promise<string>;
  expected: string;
}

function budgetArbitrary(random: Random): BudgetShape {
  return {
    allocated: random.int(0, 4000),
    overdraftLimit: random.chance(0.6) ? 0 : random.int(1, 300),
  };
}

function sameOutcome(expected: ModelOutcome, actual: ModelOutcome): boolean {
  return JSON.stringify(expected) === JSON.stringify(actual);
}

/** Runs one campaign and returns how many operations it sent. */
export async function runCampaign(target: Target, tally: Tally, options: CampaignOptions): Promise<number> {
  const random = createRandom(options.seed);
  const where = (step: number, what: string) =>
    `${target.label} ${options.replay} (run seed ${options.seed}) step ${step} ${what}`;
  const tenants: CampaignTenant[] = [];
  for (let index = 0; index < options.tenants; index += 1) {
    const depth = random.int(2, 4);
    const budgets = Array.from({ length: depth }, (_, level) =>
      level > 0 && random.chance(0.2) ? null : budgetArbitrary(random),
    );
    tenants.push(await provisionTenant(target, `${options.tenantPrefix}t${index}`, budgets));
  }
  const holds: CampaignHold[] = [];
  const catalog = badInputCatalog();
  const replays: Replayable[] = [];
  const started = target.clock.now();
  let operations = 0;
  let keys = 0;
  const key = (kind: string) => {
    keys += 1;
    return `${options.tenantPrefix}${kind}-${keys}`;
  };

  /** Marks every ACTIVE hold past expiry + grace as EXPIRED in the model. */
  const expireInModel = (except?: CampaignHold) => {
    const now = target.clock.now();
    for (const hold of holds) {
      if (hold !== except && hold.status === 'ACTIVE' && now > hold.expiresAtMs + hold.graceMs) {
        modelRelease(hold.tenant.model, hold.held);
        hold.status = 'EXPIRED';
      }
    }
  };

  /** Compares an operation's answer with the model's; untyped throws are incidents of their own. */
  const judge = (step: number, label: string, expected: ModelOutcome, actual: ModelOutcome | 'untyped') => {
    if (actual === 'untyped') return false;
    if (sameOutcome(expected, actual)) return true;
    tally.incident(
      'model mismatches',
      where(step, label),
      `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    );
    return false;
  };

  const settleAnswer = async <T>(step: number, label: string, operation: () => Promise<T>) => {
    operations += 1;
    const answer = await answerOf(operation);
    if (!answer.ok && answer.code === 'UNTYPED') {
      tally.incident('untyped errors', where(step, label), describeError(answer.error));
    }
    return answer;
  };

  for (let step = 0; step < options.steps; step += 1) {
    const tenant = random.pick(tenants);
    const mine = holds.filter((hold) => hold.tenant === tenant);
    const kind = random.weighted([
      [4, 'reserve'],
      [3, 'commit'],
      [1, 'release'],
      [1, 'extend'],
      [1, 'decide'],
      [2, 'event'],
      [2, 'retry'],
      [options.timeSteps ? 1 : 0, 'advance'],
      [options.timeSteps ? 1 : 0, 'race expiry'],
      [0.3, 'trespass'],
      [0.5, 'malformed'],
    ] as const);

    if (kind === 'reserve') {
      const estimate = random.int(0, 800);
      const minimum = random.chance(0.3) ? Math.min(random.int(0, 200), estimate) : undefined;
      const dryRun = random.chance(0.1);
      const request = {
        idempotencyKey: key('reserve'),
        subject: tenant.subject,
        action: ACTION,
        estimate: { unit: UNIT, amount: estimate },
        overagePolicy: random.pick(OVERAGE_POLICIES),
        ttlMs: random.int(1000, 20_000),
        gracePeriodMs: random.int(0, 5000),
        ...(dryRun ? { dryRun: true } : minimum === undefined ? {} : { minimum }),
        ...(random.chance(0.2) ? { metadata: { run: options.seed, step, nested: { ok: [1, 'two'] } } } : {}),
      };
      const label = `${dryRun ? 'dry-run ' : ''}reserve ${JSON.stringify({ estimate, minimum })}`;
      const answer = await settleAnswer(step, label, () => tenant.authority.reserve(request));
      if (dryRun) {
        const wouldFit = modelReserve(structuredClone(tenant.model), estimate).ok;
        if (answer.ok) {
          const allowed = answer.value.decision !== 'DENY';
          if (allowed !== wouldFit) {
            tally.incident('model mismatches', where(step, label), `decision ${answer.value.decision}`);
          }
          if (answer.value.reservationId !== undefined) {
            tally.incident('leaked holds', where(step, label), 'a dry run returned a reservation');
          }
        } else if (answer.code !== 'UNTYPED') {
          tally.incident('model mismatches', where(step, label), `dry run refused ${answer.code}`);
        }
      } else {
        const expected = modelReserve(tenant.model, estimate, minimum);
        const actual: ModelOutcome | 'untyped' = answer.ok
          ? { ok: true, charged: answer.value.reserved?.amount ?? -1 }
          : answer.code === 'UNTYPED'
            ? 'untyped'
            : { ok: false, code: answer.code };
        judge(step, label, expected, actual);
        if (answer.ok && answer.value.reservationId !== undefined) {
          const id = answer.value.reservationId;
          const held = answer.value.reserved?.amount ?? 0;
          holds.push({
            tenant,
            id,
            held,
            policy: request.overagePolicy,
            status: 'ACTIVE',
            expiresAtMs: answer.value.expiresAtMs ?? target.clock.now() + request.ttlMs,
            graceMs: request.gracePeriodMs,
            extensions: 0,
          });
          // Over HTTP a partial hold is emulated by a second reserve; only exact holds are replayed there.
          if (minimum === undefined || target.over === 'embedded') {
            replays.push({
              tenant,
              label,
              send: async () => {
                const again = await tenant.authority.reserve(request);
                return JSON.stringify([again.reservationId, again.reserved?.amount]);
              },
              expected: JSON.stringify([id, held]),
            });
          }
        }
      }
    } else if (kind === 'commit' || kind === 'release' || kind === 'extend') {
      const hold = mine.length === 0 ? undefined : random.pick(mine);
      if (hold === undefined) continue;
      const now = target.clock.now();
      const past = now > hold.expiresAtMs + hold.graceMs;
      let expected: ModelOutcome;
      let send: () => Promise<number>;
      let label: string;
      const idempotencyKey = key(kind);
      const refusal: ModelOutcome | undefined =
        hold.status === 'EXPIRED'
          ? { ok: false, code: 'RESERVATION_EXPIRED' }
          : hold.status === 'FINALIZED'
            ? { ok: false, code: 'RESERVATION_FINALIZED' }
            : past || (kind === 'extend' && now > hold.expiresAtMs)
              ? { ok: false, code: 'RESERVATION_EXPIRED' }
              : undefined;
      const model = structuredClone(tenant.model);
      if (kind === 'commit') {
        const actualAmount = random.pick([
          0,
          random.int(0, hold.held),
          hold.held,
          hold.held + 1,
          hold.held + random.int(1, 400),
          random.int(0, 900),
        ]);
        const request = {
          idempotencyKey,
          actual: { unit: UNIT, amount: actualAmount },
          ...(random.chance(0.2) ? { metrics: { tokensOutput: actualAmount, custom: { step } } } : {}),
        };
        label = `commit ${actualAmount} on a hold of ${hold.held} (${hold.policy}, ${hold.status})`;
        expected = refusal ?? modelCommit(model, hold.held, actualAmount, hold.policy);
        send = () => tenant.authority.commit(hold.id, request).then((response) => response.charged.amount);
      } else if (kind === 'release') {
        label = `release a hold of ${hold.held} (${hold.status})`;
        expected = refusal ?? { ok: true, charged: hold.held };
        if (refusal === undefined) modelRelease(model, hold.held);
        const request = { idempotencyKey, reason: 'torture' };
        send = () => tenant.authority.release(hold.id, request).then((response) => response.released.amount);
      } else {
        const extendByMs = random.int(1, 10_000);
        label = `extend by ${extendByMs} (${hold.status}, ${hold.extensions} extensions)`;
        expected =
          refusal ??
          (hold.extensions >= MAX_EXTENSIONS
            ? { ok: false, code: 'MAX_EXTENSIONS_EXCEEDED' }
            : { ok: true, charged: hold.expiresAtMs + extendByMs });
        const request = { idempotencyKey, extendByMs };
        send = () => tenant.authority.extend(hold.id, request).then((response) => response.expiresAtMs);
      }
      const answer = await settleAnswer(step, label, send);
      const actual: ModelOutcome | 'untyped' = answer.ok
        ? { ok: true, charged: answer.value }
        : answer.code === 'UNTYPED'
          ? 'untyped'
          : { ok: false, code: answer.code };
      judge(step, label, expected, actual);
      if (answer.ok) {
        if (kind === 'extend') {
          hold.expiresAtMs = answer.value;
          hold.extensions += 1;
        } else {
          hold.status = 'FINALIZED';
          tenant.model.splice(0, tenant.model.length, ...model);
        }
        const value = answer.value;
        replays.push({
          tenant,
          label,
          send: async () => JSON.stringify(await send()),
          expected: JSON.stringify(value),
        });
      }
    } else if (kind === 'decide') {
      const estimate = random.int(0, 800);
      const label = `decide ${estimate}`;
      const answer = await settleAnswer(step, label, () =>
        tenant.authority.decide({
          idempotencyKey: key('decide'),
          subject: tenant.subject,
          action: ACTION,
          estimate: { unit: UNIT, amount: estimate },
        }),
      );
      const wouldFit = modelReserve(structuredClone(tenant.model), estimate).ok;
      if (answer.ok && (answer.value.decision !== 'DENY') !== wouldFit) {
        tally.incident('model mismatches', where(step, label), `decision ${answer.value.decision}`);
      } else if (!answer.ok && answer.code !== 'UNTYPED') {
        tally.incident('model mismatches', where(step, label), `decide refused ${answer.code}`);
      }
    } else if (kind === 'event') {
      const amount = random.int(0, 600);
      const policy = random.pick(OVERAGE_POLICIES);
      const request = {
        idempotencyKey: key('event'),
        subject: tenant.subject,
        action: ACTION,
        actual: { unit: UNIT, amount },
        overagePolicy: policy,
      };
      const label = `event ${amount} (${policy})`;
      const expected = modelEvent(tenant.model, amount, policy);
      const answer = await settleAnswer(step, label, () => tenant.authority.createEvent(request));
      judge(
        step,
        label,
        expected,
        answer.ok
          ? { ok: true, charged: answer.value.charged?.amount ?? amount }
          : answer.code === 'UNTYPED'
            ? 'untyped'
            : { ok: false, code: answer.code },
      );
      if (answer.ok) {
        const eventId = answer.value.eventId;
        replays.push({
          tenant,
          label,
          send: async () => (await tenant.authority.createEvent(request)).eventId,
          expected: eventId,
        });
      }
    } else if (kind === 'retry') {
      const replay = replays.length === 0 ? undefined : random.pick(replays);
      if (replay === undefined) continue;
      const label = `same-key retry of ${replay.label}`;
      const answer = await settleAnswer(step, label, replay.send);
      if (!answer.ok && answer.code !== 'UNTYPED') {
        tally.incident('broken replays', where(step, label), `answered ${answer.code}`);
      } else if (answer.ok && answer.value !== replay.expected) {
        tally.incident(
          'broken replays',
          where(step, label),
          `answered ${answer.value}, first ${replay.expected}`,
        );
      }
      await checkBalances(tally, replay.tenant, where(step, label));
    } else if (kind === 'advance') {
      if (target.clock.now() - started > MAX_ELAPSED_MS) continue;
      target.clock.advance(random.int(0, 12_000));
      operations += 1;
      await target.admin.sweepExpired();
      expireInModel();
    } else if (kind === 'race expiry') {
      const live = mine.filter(
        (hold) => hold.status === 'ACTIVE' && hold.expiresAtMs + hold.graceMs >= target.clock.now(),
      );
      const hold = live.length === 0 ? undefined : random.pick(live);
      if (hold === undefined || target.clock.now() - started > MAX_ELAPSED_MS) continue;
      const late = random.chance(0.5) ? 1 : 0;
      target.clock.set(hold.expiresAtMs + hold.graceMs + late);
      await target.admin.sweepExpired();
      expireInModel(hold);
      const amount = random.int(0, hold.held + 100);
      const label = `commit ${amount} at expiry + grace ${late === 0 ? '(last ms)' : '+ 1 ms'} racing the sweeper`;
      const model = structuredClone(tenant.model);
      const expected: ModelOutcome =
        late === 0
          ? modelCommit(model, hold.held, amount, hold.policy)
          : { ok: false, code: 'RESERVATION_EXPIRED' };
      operations += 1;
      const [answer] = await Promise.all([
        settleAnswer(step, label, () =>
          tenant.authority.commit(hold.id, { idempotencyKey: key('race'), actual: { unit: UNIT, amount } }),
        ),
        target.admin.sweepExpired(),
      ]);
      await target.admin.sweepExpired();
      judge(
        step,
        label,
        expected,
        answer.ok
          ? { ok: true, charged: answer.value.charged.amount }
          : answer.code === 'UNTYPED'
            ? 'untyped'
            : { ok: false, code: answer.code },
      );
      if (answer.ok) {
        hold.status = 'FINALIZED';
        tenant.model.splice(0, tenant.model.length, ...model);
      } else if (late === 1) {
        modelRelease(tenant.model, hold.held);
        hold.status = 'EXPIRED';
      }
    } else if (kind === 'malformed') {
      // A bad input mixed into the run, aimed at one of this tenant's holds: refused, nothing moves.
      const input = random.pick(catalog);
      const live = mine.filter((hold) => hold.status === 'ACTIVE');
      const hold = live.length === 0 ? undefined : random.pick(live);
      if (hold === undefined && ['commit', 'release', 'extend'].includes(input.operation)) continue;
      operations += 2;
      const outcome = await tryBadInput(
        { target, tally, tenant, key, where: `${options.replay} (run seed ${options.seed}) step ${step}` },
        input,
        hold?.id ?? '',
      );
      if (outcome === 'accepted' && hold !== undefined && ['commit', 'release'].includes(input.operation)) {
        hold.status = 'FINALIZED';
      }
    } else {
      // Trespass: commit another tenant's live hold through this tenant's authority.
      const other = holds.filter((hold) => hold.tenant !== tenant && hold.status === 'ACTIVE');
      const hold = other.length === 0 ? undefined : random.pick(other);
      if (hold === undefined) continue;
      const label = `${tenant.name} commits ${hold.tenant.name}'s hold`;
      const answer = await settleAnswer(step, label, () =>
        tenant.authority.commit(hold.id, {
          idempotencyKey: key('trespass'),
          actual: { unit: UNIT, amount: 1 },
        }),
      );
      if (answer.ok) {
        tally.incident('accepted bad inputs', where(step, label), 'another tenant settled the hold');
        hold.status = 'FINALIZED';
      }
      await checkBalances(tally, hold.tenant, where(step, label));
    }
    for (const each of tenants) await checkBalances(tally, each, where(step, `after ${kind}`));
  }
  // Leave nothing held: release what is live, then every scope must hold 0.
  for (const hold of holds) {
    if (hold.status !== 'ACTIVE') continue;
    operations += 1;
    const answer = await answerOf(() =>
      hold.tenant.authority.release(hold.id, { idempotencyKey: key('cleanup') }),
    );
    if (answer.ok) modelRelease(hold.tenant.model, hold.held);
    else if (answer.code === 'RESERVATION_EXPIRED') {
      await target.admin.sweepExpired();
      modelRelease(hold.tenant.model, hold.held);
    }
    hold.status = 'FINALIZED';
  }
  for (const each of tenants)
    await checkBalances(tally, each, where(options.steps, 'after releasing every hold'));
  return operations;
}
