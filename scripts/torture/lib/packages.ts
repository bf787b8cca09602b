// The public APIs the torture campaign attacks, and nothing else: each package's index (the same
// module `@cycles-guard/<name>` resolves to under the `@cycles-guard/source` condition). The repo root
// declares no workspace dependencies, so the root scripts reach the packages by path, in this file only.

export * from '../../../packages/core/src/index.ts';
export type { LlmCallFailure } from '../../../packages/core/src/llm/index.ts';
export * from '../../../packages/core/src/protocol/index.ts';
export { ManualClock } from '../../../packages/core/src/testing/index.ts';
export { createRedisLedger, type RedisLedger } from '../../../packages/redis/src/index.ts';
export { type RedisServer, startRedisServer } from '../../../packages/redis/src/testing/index.ts';
export {
  type CyclesServer,
  createAdminClient,
  startCyclesServer,
} from '../../../packages/server/src/index.ts';
