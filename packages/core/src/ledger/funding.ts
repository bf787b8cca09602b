import { exceeded } from './evaluate.ts';
import { guardStatus } from './ledger-errors.ts';
import { type LedgerRow, overLimitAfterReconcile, rollWindow, toState } from './ledger-row.ts';
import { invalidAdminField } from './refusals.ts';
import type { FundingOperation, FundingResult } from './types.ts';

/** 400 unless `funding.amount` is a non-negative integer (checked before any idempotency lookup). */
export function checkFundingAmount(funding: FundingOperation): void {
  const amountOk = Number.isSafeInteger(funding?.amount) && funding.amount >= 0;
  if (!amountOk) throw invalidAdminField('funding.amount');
}

/** Applies one funding operation to a ledger (window rolled, status checked) and returns before and after. */
export function applyFunding(row: LedgerRow, funding: FundingOperation, now: number): FundingResult {
  rollWindow(row, now);
  guardStatus(row);
  const previous = { allocated: row.allocated, remaining: row.remaining, debt: row.debt, spent: row.spent };
  const amount = funding.amount;
  switch (funding.operation) {
    case 'CREDIT':
      // Ref: CREDIT leaves debt alone (Spec says funding repays debt first); REPAY_DEBT reduces it.
      row.allocated += amount;
      row.remaining += amount;
      break;
    case 'DEBIT':
      if (row.remaining < amount) throw exceeded(row, amount, now);
      row.allocated -= amount;
      row.remaining -= amount;
      break;
    case 'RESET':
      row.allocated = amount;
      row.remaining = amount - row.reserved - row.spent - row.debt;
      break;
    case 'RESET_SPENT': {
      const spent = funding.spent ?? 0;
      if (!Number.isSafeInteger(spent) || spent < 0) {
        throw invalidAdminField('funding.spent');
      }
      row.allocated = amount;
      row.spent = spent;
      row.remaining = amount - spent - row.reserved - row.debt;
      break;
    }
    case 'REPAY_DEBT': {
      const repaid = Math.min(row.debt, amount);
      row.debt -= repaid;
      row.remaining += amount;
      row.allocated += amount - repaid;
      break;
    }
    default:
      throw invalidAdminField('funding.operation');
  }
  row.isOverLimit = overLimitAfterReconcile(row);
  return { previous, current: toState(row) };
}
