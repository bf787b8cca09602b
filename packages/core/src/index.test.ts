import { describe, expect, it } from 'vitest';

// The root is the app-facing API (issue 19): adapters' building blocks are on `./llm`, ledger and server
// tools on `./ledger-kit`, wire codecs on `./protocol`. A name added here is a reviewed change: put it
// on a subpath unless an application imports it. (Types are not visible at runtime; they are reviewed in
// src/index.ts.)
describe('@cycles-guard/core root exports', () => {
  it('are exactly the app-facing runtime values', async () => {
    const root = await import('./index.ts');
    expect(Object.keys(root).sort()).toEqual([
      'AuthorityUnavailableError',
      'BEDROCK_PRICES',
      'BEDROCK_PRICES_SOURCE',
      'BEDROCK_PRICES_VERSION',
      'BUDGET_HEADERS',
      'BudgetClosedError',
      'BudgetExceededError',
      'BudgetFrozenError',
      'CyclesError',
      'DebtOutstandingError',
      'DuplicateLedgerError',
      'ErrorCode',
      'ForbiddenError',
      'IdempotencyMismatchError',
      'InternalError',
      'InvalidConfigError',
      'InvalidRequestError',
      'LedgerInUseError',
      'LimitExceededError',
      'MaxExtensionsExceededError',
      'ModelNotPricedError',
      'NotFoundError',
      'OverdraftLimitExceededError',
      'ReservationExpiredError',
      'ReservationFinalizedError',
      'SpendLog',
      'TenantClosedError',
      'UnauthorizedError',
      'UnitMismatchError',
      'budgetErrorResponse',
      'createCycles',
      'createHttpAuthority',
      'createMemoryLedger',
      'createPriceCatalog',
      'createWebhookSink',
      'currentBudget',
      'currentCycles',
      'cyclesFromEnv',
      'getDefaultCycles',
      'loadLedgerConfig',
      'optionsFromEnv',
      'recordSpend',
      'remainingBudgetHeaders',
      'runWithBudget',
      'setDefaultCycles',
      'signWebhookBody',
      'spendReport',
      'spendReportCsv',
      'subjectBalances',
      'verifyWebhookSignature',
      'withRunBudget',
    ]);
  });

  it('keep the adapter and ledger building blocks on their subpaths', async () => {
    const [root, llm, ledgerKit] = await Promise.all([
      import('./index.ts'),
      import('./llm/index.ts'),
      import('./ledger-kit/index.ts'),
    ]);
    for (const name of Object.keys(llm)) expect(root, name).not.toHaveProperty(name);
    for (const name of ['isOutboxKey', 'parseOutboxEntry', 'createFileJournal', 'templateLimitError']) {
      expect(ledgerKit, name).toHaveProperty(name);
      expect(root, name).not.toHaveProperty(name);
    }
  });
});
