import type { BudgetAuthority } from './authority.ts';
import { type Clock, systemClock } from './clock.ts';
import { type CyclesOptions, optionsFromEnv, resolveConfig } from './config.ts';
import type { Cycles } from './cycles-types.ts';
import { emitSafely } from './events.ts';
import { createMemoryLedger, loadLedgerConfig } from './ledger/memory-ledger.ts';
import { currentBudget, runWithBudget } from './lifecycle/budget-context.ts';
import { guard } from './lifecycle/guard.ts';
import { reserveHold } from './lifecycle/hold.ts';
import { createOutbox } from './lifecycle/outbox/create-outbox.ts';
import { beginLlmCall, type LlmRuntime } from './llm/call-guard.ts';
import { createPriceCatalog, type PriceCatalogOptions } from './llm/catalog.ts';
import { createTelemetry } from './telemetry/create-telemetry.ts';

export type { Cycles } from './cycles-types.ts';

function catalogOptions(options: CyclesOptions): PriceCatalogOptions {
  const result: PriceCatalogOptions = {};
  if (options.prices !== undefined) result.prices = options.prices;
  if (options.pricesFile !== undefined) result.pricesFile = options.pricesFile;
  if (options.inferenceProfiles !== undefined) result.inferenceProfiles = options.inferenceProfiles;
  if (options.unknownModels !== undefined) result.unknownModels = options.unknownModels;
  return result;
}

function defaultAuthority(options: CyclesOptions, clock: Clock): BudgetAuthority {
  const file = options.configFile === undefined ? undefined : loadLedgerConfig(options.configFile);
  return createMemoryLedger({
    clock,
    ...file,
    ledgers: [...(file?.ledgers ?? []), ...(options.ledgers ?? [])],
    templates: [...(file?.templates ?? []), ...(options.templates ?? [])],
    tenants: { ...file?.tenants, ...options.tenants },
  });
}

/**
 * Creates a Cycles instance. With no `authority`, budgets live in an in-process memory ledger built
 * from `ledgers`, `templates`, `tenants` and `configFile`. Invalid options throw InvalidConfigError at once.
 */
export function createCycles(options: CyclesOptions = {}): Cycles {
  const config = resolveConfig(options);
  const clock = options.clock ?? systemClock;
  const catalog = createPriceCatalog(catalogOptions(options));
  const authority = options.authority ?? defaultAuthority(options, clock);
  const telemetry = createTelemetry(options.telemetry);
  const onEvent = telemetry?.withHandler(options.onEvent) ?? options.onEvent;
  const emit: LlmRuntime['emit'] = (event) => emitSafely(onEvent, event);
  const outbox = createOutbox(authority, emit, config.outbox);
  const runtime: LlmRuntime = {
    authority,
    config,
    clock,
    catalog,
    emit,
    listening: onEvent !== undefined,
    outbox,
    onLlmCall: telemetry === undefined ? undefined : (call) => telemetry.llmCall(call),
  };
  const cycles: Cycles = {
    authority,
    config,
    catalog,
    reserve: (reserveOptions) => reserveHold(runtime, reserveOptions),
    guard: (guardOptions, fn) => guard(runtime, cycles, guardOptions, fn),
    beginLlmCall: (callOptions) => beginLlmCall(runtime, callOptions),
    run: (contextOptions, fn) => runWithBudget({ ...contextOptions, cycles }, fn),
    flushSettlements: async (timeoutMs = 5_000) => (await outbox?.flush(timeoutMs)) ?? { pending: 0 },
    close: async () => {
      try {
        await outbox?.close();
        await authority.close?.();
      } finally {
        telemetry?.flush();
      }
    },
  };
  return cycles;
}

/** Creates a Cycles instance from `CYCLES_*` variables (see `optionsFromEnv`), with `overrides` on top. */
export function cyclesFromEnv(
  env: Record<string, string | undefined> = process.env,
  overrides: CyclesOptions = {},
): Cycles {
  return createCycles({ ...optionsFromEnv(env), ...overrides });
}

// Process-wide, so shared by every copy of core (ESM and CJS builds, duplicate installs) through a
// global symbol: two copies each creating their own embedded ledger from the environment would each
// grant the whole budget.
const DEFAULT_KEY = Symbol.for('cycles-guard.default-cycles');
const defaults = globalThis as { [DEFAULT_KEY]?: Cycles | undefined };

/** The process-wide default instance, created from the environment on first use. */
export function getDefaultCycles(): Cycles {
  defaults[DEFAULT_KEY] ??= cyclesFromEnv();
  return defaults[DEFAULT_KEY];
}

/** Replaces the process-wide default instance (`undefined` resets it to lazy creation). */
export function setDefaultCycles(cycles: Cycles | undefined): void {
  defaults[DEFAULT_KEY] = cycles;
}

/** The instance a call should use: the budget context's, else the process default. */
export function currentCycles(): Cycles {
  return currentBudget()?.cycles ?? getDefaultCycles();
}
