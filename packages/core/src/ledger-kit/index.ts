// @cycles-guard/core/ledger-kit: what a second ledger implementation (Redis, a server) needs to accept
// and refuse exactly what the memory ledger does: one validation path, one cursor codec, one set of
// typed refusals. Apps do not need it.

export {
  normalizeScope,
  validateDefinition,
  validateTemplate,
  validateTenantSettings,
} from '../ledger/definitions.ts';
export { tooManyReservations } from '../ledger/ledger-errors.ts';
export { decodeCursor, page } from '../ledger/reservations.ts';
export { denyDetailOf } from '../protocol/deny-detail.ts';
export {
  checkJsonValue,
  MAX_JSON_CHARS,
  MAX_JSON_DEPTH,
  validateBalancesQuery,
  validateListQuery,
} from '../protocol/validate.ts';
