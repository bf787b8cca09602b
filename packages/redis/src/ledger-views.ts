import type { Balance, LedgerState } from '@cycles-guard/core';
import { toBalance } from '@cycles-guard/core/ledger-kit';
import type { Unit } from '@cycles-guard/core/protocol';

// Script replies carry a ledger row as an array of strings (amounts never travel as JSON numbers);
// these decode one (the ledger kit shapes the protocol views).

/** A row as a script returns it (see row_out in lua/library.ts). */
export type RowReply = string[];

/** Parses a decimal amount a script wrote with %.0f; exact for |n| ≤ 2^53 − 1. */
export function amount(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`ledger amount out of the exact range: ${text}`);
  return value;
}

/** Lua's cjson encodes an empty table as {}; lists come back as arrays otherwise. */
export function asList<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

export function toState(row: RowReply): LedgerState {
  const [ledgerId, scope, unit, allocated, remaining, reserved, spent, debt, limit, over, status] = row;
  const state: LedgerState = {
    ledgerId: ledgerId!,
    scope: scope!,
    unit: unit as Unit,
    allocated: amount(allocated!),
    remaining: amount(remaining!),
    reserved: amount(reserved!),
    spent: amount(spent!),
    debt: amount(debt!),
    overdraftLimit: amount(limit!),
    isOverLimit: over === '1',
    status: status as LedgerState['status'],
  };
  if (row[11]) state.caps = JSON.parse(row[11]);
  if (row[12]) state.commitOveragePolicy = row[12] as LedgerState['commitOveragePolicy'];
  if (row[13]) {
    state.window = JSON.parse(row[13]);
    state.periodStartMs = amount(row[14]!);
    state.periodEndMs = amount(row[15]!);
  }
  return state;
}

/** The protocol Balances of the rows a script returned (shaped by the ledger kit, as the memory ledger's). */
export function balancesOf(rows: unknown): Balance[] {
  return asList<RowReply>(rows).map((row) => toBalance(toState(row)));
}

/** Milliseconds until a windowed row's period ends, when it has one. */
export function retryAfter(row: RowReply, nowMs: number): number | undefined {
  return row[15] ? Math.max(0, amount(row[15]) - nowMs) : undefined;
}
