// A tenant of a campaign: its hierarchy, its budgets in the reference model, and the check that the
// ledger's balances still agree with the model (classified into the broken promises they would be).

import type { Tally } from './figures.ts';
import type { ModelScope } from './model.ts';
import type { Balance, BudgetAuthority, Subject } from './packages.ts';
import { CyclesError } from './packages.ts';
import type { Target } from './targets.ts';

export const UNIT = 'TOKENS' as const;
export const ACTION = { kind: 'llm.completion', name: 'torture-model' };

const LEVELS = ['tenant', 'workspace', 'app', 'workflow'] as const;
const VALUES = ['', 'ws', 'app', 'flow'] as const;

export interface CampaignTenant {
  name: string;
  subject: Subject;
  /** Budgeted scope paths, in canonical order (root first). */
  paths: string[];
  /** The model of each budgeted path, same order. */
  model: ModelScope[];
  authority: BudgetAuthority;
}

export interface BudgetShape {
  allocated: number;
  overdraftLimit: number;
}

/**
 * Provisions `tenant` over a 2–4-level hierarchy (`budgets[i]` null leaves level i unbudgeted; the
 * tenant level is always budgeted so balances can be listed) and returns it with its model.
 */
export async function provisionTenant(
  target: Target,
  name: string,
  budgets: (BudgetShape | null)[],
): Promise<CampaignTenant> {
  const subject: Record<string, string> = {};
  const paths: string[] = [];
  const model: ModelScope[] = [];
  const segments: string[] = [];
  for (const [index, budget] of budgets.entries()) {
    const level = LEVELS[index] as (typeof LEVELS)[number];
    const value = index === 0 ? name : (VALUES[index] as string);
    subject[level] = value;
    segments.push(`${level}:${value}`);
    if (budget === null && index > 0) continue;
    const shape = budget ?? { allocated: 1_000_000, overdraftLimit: 0 };
    const path = segments.join('/');
    await target.admin.createLedger({ scope: path, unit: UNIT, ...shape });
    paths.push(path);
    model.push({ ...shape, remaining: shape.allocated, reserved: 0, spent: 0, debt: 0, isOverLimit: false });
  }
  return { name, subject, paths, model, authority: await target.authority(name) };
}

/** Held money gone negative, more spent than allocated, or debt past the overdraft limit. */
function overspent(scope: ModelScope): boolean {
  return scope.reserved < 0 || scope.spent > scope.allocated || scope.debt > scope.overdraftLimit;
}

function amountOf(value: { amount: number } | undefined): number {
  return value?.amount ?? 0;
}

function countersOf(balance: Balance): ModelScope {
  return {
    allocated: amountOf(balance.allocated),
    remaining: balance.remaining.amount,
    reserved: amountOf(balance.reserved),
    spent: amountOf(balance.spent),
    debt: amountOf(balance.debt),
    overdraftLimit: amountOf(balance.overdraftLimit),
    isOverLimit: balance.isOverLimit ?? false,
  };
}

/**
 * Reads the tenant's balances through its own authority and compares every budgeted scope with the
 * model. Each kind of disagreement counts once per check; the model is then set to what the ledger
 * says, so one bug is one incident rather than a cascade. Returns whether all agreed.
 */
export async function checkBalances(
  tally: Tally,
  tenant: CampaignTenant,
  where: string,
  options: { silent?: boolean } = {},
): Promise<boolean> {
  let balances: Balance[];
  try {
    balances = (await tenant.authority.getBalances({ tenant: tenant.name, limit: 50 })).balances;
  } catch (error) {
    if (options.silent === true) return false;
    tally.incident(
      CyclesError.isInstance(error) ? 'model mismatches' : 'untyped errors',
      where,
      `getBalances failed: ${String(error)}`,
    );
    return false;
  }
  const found = new Set<string>();
  for (const [index, path] of tenant.paths.entries()) {
    const balance = balances.find((candidate) => candidate.scopePath === path);
    const expected = tenant.model[index] as ModelScope;
    if (balance === undefined) {
      found.add('model mismatches');
      tally.incident('model mismatches', where, `no balance for ${path}`);
      continue;
    }
    const actual = countersOf(balance);
    const detail = `${path}: ledger ${JSON.stringify(actual)} model ${JSON.stringify(expected)}`;
    const kinds = new Set<Parameters<Tally['incident']>[0]>();
    // Counted where it starts: once the model is set to an overspent state, it is not counted again.
    if (overspent(actual) && !overspent(expected)) kinds.add('overspend');
    if (actual.spent > expected.spent) kinds.add('double charges');
    if (actual.spent < expected.spent) kinds.add('lost charges');
    if (actual.reserved > expected.reserved) kinds.add('leaked holds');
    const differs = (Object.keys(actual) as (keyof ModelScope)[]).some(
      (name) => actual[name] !== expected[name],
    );
    if (kinds.size === 0 && differs) kinds.add('model mismatches');
    for (const kind of kinds) {
      if (!found.has(kind) && options.silent !== true) tally.incident(kind, where, detail);
      found.add(kind);
    }
    Object.assign(expected, actual);
  }
  return found.size === 0;
}
