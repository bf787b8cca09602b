import { describe } from 'vitest';
import { registerExtensionTests } from './extensions.ts';
import type { ConformanceOptions } from './fixtures.ts';
import { registerFundingTests } from './funding.ts';
import { registerHostileInputTests } from './hostile-input.ts';
import { registerIdempotencyTests } from './idempotency.ts';
import { registerIsolationTests } from './isolation.ts';
import { registerLifecycleTests } from './lifecycle.ts';
import { registerModelPropertyTests } from './model-properties.ts';
import { registerObserveModeTests } from './observe-mode.ts';
import { registerPropertyTests } from './properties.ts';
import { registerQueryTests } from './queries.ts';
import { registerRemovalTests } from './removal.ts';
import { registerSettlementTests } from './settlement.ts';
import { registerTemplateBoundTests } from './template-bounds.ts';
import { registerTenantBoundTests } from './tenant-bounds.ts';
import { registerTenantCloseTests } from './tenant-close.ts';
import { registerTenantTests } from './tenants.ts';

/**
 * Registers the ledger conformance suite (vitest `describe`/`it` blocks) for one ledger implementation.
 * It only uses the `Ledger` interface and the `ManualClock`, so the same suite runs against the memory
 * ledger, the Redis ledger and an HTTP authority with admin access.
 *
 * @example
 * describeLedgerConformance('memory ledger', { createLedger: (clock) => createMemoryLedger({ clock }) });
 */
export function describeLedgerConformance(name: string, options: ConformanceOptions): void {
  describe(`ledger conformance: ${name}`, () => {
    registerSettlementTests(options);
    registerLifecycleTests(options);
    registerIdempotencyTests(options);
    registerHostileInputTests(options);
    registerIsolationTests(options);
    registerQueryTests(options);
    registerFundingTests(options);
    registerTenantTests(options);
    registerTenantCloseTests(options);
    registerTenantBoundTests(options);
    registerExtensionTests(options);
    registerObserveModeTests(options);
    registerRemovalTests(options);
    registerTemplateBoundTests(options);
    registerPropertyTests(options);
    registerModelPropertyTests(options);
  });
}
