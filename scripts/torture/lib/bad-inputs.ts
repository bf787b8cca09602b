// Malformed input on every operation: each must be refused with a typed INVALID_REQUEST, change
// nothing (a refused commit retried with the same key must not charge), and never reach a 5xx. Also:
// two keys differing only in lone surrogates must never share a reservation.

import { BAD_NUMBERS, BAD_OBJECTS, BAD_TEXTS, type BadValues, withField } from './bad-values.ts';
import type { Tally } from './figures.ts';
import { modelCommit, modelReserve } from './model.ts';
import { answerOf, describeError } from './outcome.ts';
import type { BudgetAuthority, ErrorCode } from './packages.ts';
import type { Target } from './targets.ts';
import { ACTION, type CampaignTenant, checkBalances, provisionTenant, UNIT } from './tenants.ts';

type Operation = 'reserve' | 'decide' | 'event' | 'commit' | 'release' | 'extend' | 'balances' | 'list';

export interface BadInput {
  operation: Operation;
  field: string;
  value: string;
  make: () => unknown;
  /** Codes other than INVALID_REQUEST that are also a correct refusal of this input. */
  alsoAccepted?: ErrorCode[];
}

const FIELDS: Record<Operation, Record<string, BadValues>> = {
  reserve: {
    idempotencyKey: BAD_TEXTS,
    'subject.workspace': BAD_TEXTS,
    'action.kind': BAD_TEXTS,
    'action.name': BAD_TEXTS,
    'estimate.amount': BAD_NUMBERS,
    'estimate.unit': { 'an unknown unit': () => 'DOLLARS', 'a number': () => 5 },
    ttlMs: BAD_NUMBERS,
    gracePeriodMs: BAD_NUMBERS,
    minimum: BAD_NUMBERS,
    overagePolicy: { 'an unknown policy': () => 'BOGUS', 'a number': () => 1 },
    dryRun: { "'yes' (a string)": () => 'yes' },
    metadata: BAD_OBJECTS,
  },
  decide: {
    idempotencyKey: BAD_TEXTS,
    'action.name': BAD_TEXTS,
    'estimate.amount': BAD_NUMBERS,
    metadata: BAD_OBJECTS,
  },
  event: {
    idempotencyKey: BAD_TEXTS,
    'action.name': BAD_TEXTS,
    'actual.amount': BAD_NUMBERS,
    overagePolicy: { 'an unknown policy': () => 'BOGUS' },
    clientTimeMs: { NaN: () => Number.NaN, "'x' (a string)": () => 'x' },
    metadata: BAD_OBJECTS,
    'metrics.custom': BAD_OBJECTS,
    'metrics.tokensInput': BAD_NUMBERS,
  },
  commit: {
    idempotencyKey: BAD_TEXTS,
    'actual.amount': BAD_NUMBERS,
    'actual.unit': { 'an unknown unit': () => 'DOLLARS' },
    metadata: BAD_OBJECTS,
    'metrics.custom': BAD_OBJECTS,
    'metrics.tokensOutput': BAD_NUMBERS,
    'metrics.modelVersion': BAD_TEXTS,
    reservationId: {
      'lone high surrogate': () => 'r-\ud800',
      '1 MB string': BAD_TEXTS['1 MB string'] as () => unknown,
    },
  },
  release: {
    idempotencyKey: BAD_TEXTS,
    reason: BAD_TEXTS,
    reservationId: {
      'lone high surrogate': () => 'r-\ud800',
      '1 MB string': BAD_TEXTS['1 MB string'] as () => unknown,
    },
  },
  extend: {
    idempotencyKey: BAD_TEXTS,
    extendByMs: { ...BAD_NUMBERS, 0: () => 0 },
    metadata: BAD_OBJECTS,
  },
  balances: {
    cursor: { garbage: () => 'garbage', ...BAD_TEXTS },
    limit: { ...BAD_NUMBERS, 0: () => 0, 100000: () => 100_000 },
  },
  list: {
    cursor: { garbage: () => 'garbage', ...BAD_TEXTS },
    fromMs: BAD_NUMBERS,
    status: { 'an unknown status': () => 'BOGUS' },
    limit: BAD_NUMBERS,
  },
};

/** Every (operation, field, value) of the catalog. */
export function badInputCatalog(): BadInput[] {
  const inputs: BadInput[] = [];
  for (const [operation, fields] of Object.entries(FIELDS) as [Operation, Record<string, BadValues>][]) {
    for (const [field, values] of Object.entries(fields)) {
      for (const [value, make] of Object.entries(values)) {
        inputs.push({
          operation,
          field,
          value,
          make,
          ...(field === 'reservationId' ? { alsoAccepted: ['NOT_FOUND'] as ErrorCode[] } : {}),
          ...(field.endsWith('unit') ? { alsoAccepted: ['UNIT_MISMATCH'] as ErrorCode[] } : {}),
        });
      }
    }
  }
  return inputs;
}

export interface BadInputContext {
  target: Target;
  tally: Tally;
  tenant: CampaignTenant;
  key(kind: string): string;
  where: string;
}

/** Sends one bad input (twice, same key) and checks it was refused, typed, and changed nothing. */
export async function tryBadInput(
  context: BadInputContext,
  input: BadInput,
  holdId: string,
): Promise<'refused' | 'accepted'> {
  const { tenant, tally } = context;
  const authority: BudgetAuthority = tenant.authority;
  const label = `${input.operation} with ${input.field} = ${input.value}`;
  const where = `${context.target.label} ${context.where}: ${label}`;
  tally.badInputs.add(label);
  const key = context.key('bad');
  const base = {
    reserve: {
      idempotencyKey: key,
      subject: tenant.subject,
      action: ACTION,
      estimate: { unit: UNIT, amount: 10 },
    },
    decide: {
      idempotencyKey: key,
      subject: tenant.subject,
      action: ACTION,
      estimate: { unit: UNIT, amount: 10 },
    },
    event: {
      idempotencyKey: key,
      subject: tenant.subject,
      action: ACTION,
      actual: { unit: UNIT, amount: 5 },
    },
    commit: { idempotencyKey: key, actual: { unit: UNIT, amount: 5 } },
    release: { idempotencyKey: key },
    extend: { idempotencyKey: key, extendByMs: 1000 },
    balances: { tenant: tenant.name },
    list: { tenant: tenant.name },
  }[input.operation];
  const isId = input.field === 'reservationId';
  const request = isId ? base : withField(base, input.field, input.make());
  const id = isId ? (input.make() as string) : holdId;
  const send = (): Promise<unknown> => {
    switch (input.operation) {
      case 'reserve':
        return authority.reserve(request as never);
      case 'decide':
        return authority.decide(request as never);
      case 'event':
        return authority.createEvent(request as never);
      case 'commit':
        return authority.commit(id, request as never);
      case 'release':
        return authority.release(id, request as never);
      case 'extend':
        return authority.extend(id, request as never);
      case 'balances':
        return authority.getBalances(request as never);
      case 'list':
        return authority.listReservations(request as never);
    }
  };
  let accepted = false;
  // Twice with the same key: a refused request retried must still change nothing.
  for (const attempt of ['first try', 'same-key retry']) {
    const answer = await answerOf(send);
    if (answer.ok) {
      accepted = true;
      tally.incident(
        'accepted bad inputs',
        `${where} (${attempt})`,
        `answered ${describeAnswer(answer.value)}`,
      );
      const reservationId = (answer.value as { reservationId?: string }).reservationId;
      if (reservationId !== undefined)
        await answerOf(() => authority.release(reservationId, { idempotencyKey: context.key('undo') }));
      break;
    }
    if (answer.code === 'UNTYPED') {
      tally.incident('untyped errors', `${where} (${attempt})`, describeError(answer.error));
    } else if (answer.status >= 500 && answer.code === 'AUTHORITY_UNAVAILABLE') {
      // The client refused to send it and called that an outage (it would be retried, fail-closed).
      tally.incident(
        'wrong error codes',
        `${where} (${attempt})`,
        `${answer.code}: ${answer.error.message.slice(0, 120)}`,
      );
    } else if (answer.status >= 500) {
      tally.incident('5xx answers', `${where} (${attempt})`, `${answer.status} ${answer.code}`);
    } else if (answer.code !== 'INVALID_REQUEST' && !(input.alsoAccepted ?? []).includes(answer.code)) {
      tally.incident(
        'wrong error codes',
        `${where} (${attempt})`,
        `${answer.code}: ${answer.error.message.slice(0, 120)}`,
      );
    }
  }
  if (accepted) {
    await checkBalances(tally, tenant, where, { silent: true });
    return 'accepted';
  }
  const unchanged = await checkBalances(tally, tenant, `${where}: balances after two refusals`);
  if (!unchanged) {
    tally.incident('refusals that changed state', where, 'balances moved although the input was refused');
  }
  return 'refused';
}

function describeAnswer(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 160);
  } catch {
    return String(value);
  }
}

/**
 * Throws the whole catalog at one tenant. Settling operations aim at a live 10-unit hold; after them
 * the hold must still be live and a valid commit must charge exactly once.
 */
export async function runBadInputs(
  target: Target,
  tally: Tally,
  tenantName: string,
  replay: string,
): Promise<number> {
  const tenant = await provisionTenant(target, tenantName, [
    { allocated: 100_000, overdraftLimit: 0 },
    { allocated: 50_000, overdraftLimit: 0 },
  ]);
  let keys = 0;
  const context: BadInputContext = {
    target,
    tally,
    tenant,
    key: (kind) => {
      keys += 1;
      return `${tenantName}-${kind}-${keys}`;
    },
    where: replay,
  };
  let operations = 0;
  let hold: { id: string; held: number } | undefined;
  const newHold = async () => {
    const response = await tenant.authority.reserve({
      idempotencyKey: context.key('hold'),
      subject: tenant.subject,
      action: ACTION,
      estimate: { unit: UNIT, amount: 10 },
      ttlMs: 3_600_000,
    });
    modelReserve(tenant.model, 10);
    return { id: response.reservationId as string, held: 10 };
  };
  for (const input of badInputCatalog()) {
    hold ??= await newHold();
    operations += 2;
    const outcome = await tryBadInput(context, input, hold.id);
    if (['commit', 'release', 'extend'].includes(input.operation)) {
      const detail = await answerOf(() => tenant.authority.getReservation(hold!.id));
      if (!detail.ok || detail.value.status !== 'ACTIVE') {
        if (outcome === 'refused') {
          tally.incident(
            'refusals that changed state',
            `${target.label} ${replay}: ${input.operation} with ${input.field} = ${input.value}`,
            `the hold is ${detail.ok ? detail.value.status : detail.code} after a refused ${input.operation}`,
          );
        }
        hold = undefined;
      }
    }
  }
  if (hold !== undefined) {
    // The hold survived every refusal: settling it now charges exactly its amount, once.
    const answer = await answerOf(() =>
      tenant.authority.commit(hold!.id, {
        idempotencyKey: context.key('valid'),
        actual: { unit: UNIT, amount: 7 },
      }),
    );
    if (answer.ok) modelCommit(tenant.model, hold.held, 7, 'REJECT');
    else {
      tally.incident(
        'model mismatches',
        `${target.label} ${replay}: valid commit after the bad inputs`,
        String(answer.code),
      );
    }
    await checkBalances(tally, tenant, `${target.label} ${replay}: valid commit after the bad inputs`);
  }
  operations += await checkSurrogateKeys(target, tally, tenant, context, replay);
  return operations;
}

/** Two keys that differ only in a lone surrogate are two requests: never one reservation. */
async function checkSurrogateKeys(
  target: Target,
  tally: Tally,
  tenant: CampaignTenant,
  context: BadInputContext,
  replay: string,
): Promise<number> {
  const stem = context.key('pair');
  const ids: string[] = [];
  for (const suffix of ['\ud800x', '\udbffx', '\udc00x']) {
    tally.badInputs.add(`reserve with idempotencyKey ending in a lone surrogate (${ids.length})`);
    const answer = await answerOf(() =>
      tenant.authority.reserve({
        idempotencyKey: `${stem}${suffix}`,
        subject: tenant.subject,
        action: ACTION,
        estimate: { unit: UNIT, amount: 3 },
      }),
    );
    if (answer.ok && answer.value.reservationId !== undefined) ids.push(answer.value.reservationId);
    else if (!answer.ok && answer.code === 'UNTYPED') {
      tally.incident(
        'untyped errors',
        `${target.label} ${replay}: surrogate key`,
        describeError(answer.error),
      );
    }
  }
  if (new Set(ids).size < ids.length) {
    tally.incident(
      'merged keys',
      `${target.label} ${replay}`,
      `keys differing only in lone surrogates share a reservation: ${ids.join(', ')}`,
    );
  }
  for (const id of new Set(ids)) {
    await answerOf(() => tenant.authority.release(id, { idempotencyKey: context.key('pair-undo') }));
  }
  await checkBalances(tally, tenant, `${target.label} ${replay}: after the surrogate-key pair`, {
    silent: true,
  });
  return 3 + ids.length;
}
