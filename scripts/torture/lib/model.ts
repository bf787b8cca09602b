// The reference model of §2.2, §2.4, §2.6 and §2.10: the very one the ledger conformance suite checks
// every ledger against (core's testing subpath keeps it; imported by path like every package here).

export {
  type ModelOutcome,
  type ModelScope,
  modelCommit,
  modelEvent,
  modelRelease,
  modelReserve,
} from '../../../packages/core/src/testing/settlement-model.ts';
