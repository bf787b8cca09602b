import { BUDGET_GATES } from './budget-gates.ts';
import { IDEMPOTENCY } from './idempotency.ts';
import { LEDGER_ROWS } from './ledger-rows.ts';
import { PRELUDE } from './prelude.ts';
import { RESERVATIONS } from './reservations.ts';

/**
 * The Lua shared by every operation, in dependency order (a Lua local is visible only after it is
 * defined). Loaded once as a function library, or prepended to each EVAL script.
 */
export const LIBRARY = [PRELUDE, LEDGER_ROWS, BUDGET_GATES, RESERVATIONS, IDEMPOTENCY].join('\n');
