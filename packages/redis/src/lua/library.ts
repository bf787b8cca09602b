import { BUDGET_GATES } from './budget-gates.ts';
import { IDEMPOTENCY } from './idempotency.ts';
import { LEDGER_ROWS } from './ledger-rows.ts';
import { PRELUDE } from './prelude.ts';
import { RESERVATIONS } from './reservations.ts';

/**
 * The Lua shared by every operation, in dependency order (a Lua local is visible only after it is
 * defined). Loaded once as a function library, or prepended to each EVAL script.
 *
 * On the hot path (reserve, commit) every instruction of Redis's Lua 5.1 shows: a Lua function call
 * costs a few hundred machine instructions, `ipairs` calls its iterator (a C function) per element,
 * and a table filled one entry at a time is rehashed at 1, 2, 4, 8, ... entries. So the hot loops are
 * numeric `for`s, tests that usually fail (a window to roll, a new row) are made before the call, and
 * lists are built by constructors or presized (README "Performance").
 */
export const LIBRARY = [PRELUDE, LEDGER_ROWS, BUDGET_GATES, RESERVATIONS, IDEMPOTENCY].join('\n');
