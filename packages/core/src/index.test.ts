import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The root is the app-facing API (issue 19): what an application writes in ordinary code. Adapters'
// building blocks are on `./llm`, spend reports on `./reports`, protocol events and webhooks on
// `./webhooks`, wire codecs and protocol types on `./protocol`, ledger and server tools on `./ledger-kit`.
// A name added here is a reviewed change: put it on a subpath unless an application imports it.

/** Every name the root exports, types included, as the TypeScript compiler sees the module. */
function rootExportNames(): string[] {
  const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const source = program.getSourceFile(entry);
  const checker = program.getTypeChecker();
  const module = source && checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`the compiler did not load ${entry}`);
  return checker
    .getExportsOfModule(module)
    .map((symbol) => symbol.name)
    .sort();
}

const RUNTIME = [
  'AuthorityUnavailableError',
  'BUDGET_HEADERS',
  'BudgetClosedError',
  'BudgetExceededError',
  'BudgetFrozenError',
  'CyclesError',
  'DebtOutstandingError',
  'ErrorCode',
  'ForbiddenError',
  'IdempotencyMismatchError',
  'InternalError',
  'InvalidConfigError',
  'InvalidRequestError',
  'LimitExceededError',
  'MaxExtensionsExceededError',
  'ModelNotPricedError',
  'NotFoundError',
  'OverdraftLimitExceededError',
  'ReservationExpiredError',
  'ReservationFinalizedError',
  'TenantClosedError',
  'UnauthorizedError',
  'UnitMismatchError',
  'budgetErrorResponse',
  'createCycles',
  'createHttpAuthority',
  'createMemoryLedger',
  'createPriceCatalog',
  'currentBudget',
  'currentCycles',
  'cyclesFromEnv',
  'getDefaultCycles',
  'loadLedgerConfig',
  'optionsFromEnv',
  'remainingBudgetHeaders',
  'runWithBudget',
  'setDefaultCycles',
  'subjectBalances',
  'withRunBudget',
];

const TYPES = [
  'Action',
  'Balance',
  'BudgetAuthority',
  'BudgetContext',
  'BudgetContextOptions',
  'Cycles',
  'CyclesEvent',
  'CyclesEventHandler',
  'CyclesOptions',
  'GuardOptions',
  'Hold',
  'HttpAuthorityOptions',
  'Ledger',
  'LedgerState',
  'LlmCallOutcome',
  'MemoryLedgerOptions',
  'ReserveOptions',
  'RunBudget',
  'RunBudgetOptions',
  'Settlement',
  'Subject',
];

describe('@cycles-guard/core root exports', () => {
  it('are exactly the app-facing runtime values', async () => {
    const root = await import('./index.ts');
    expect(Object.keys(root).sort()).toEqual(RUNTIME);
  });

  it('are exactly the app-facing names, types included (60 at most)', () => {
    const names = rootExportNames();
    expect(names).toEqual([...RUNTIME, ...TYPES].sort());
    expect(names.length).toBeLessThanOrEqual(60);
  }, 30_000);

  it('keep the adapter, report, webhook and ledger building blocks on their subpaths', async () => {
    const [root, llm, reports, webhooks, ledgerKit] = await Promise.all([
      import('./index.ts'),
      import('./llm/index.ts'),
      import('./reports/index.ts'),
      import('./webhooks/index.ts'),
      import('./ledger-kit/index.ts'),
    ]);
    for (const subpath of [llm, reports, webhooks]) {
      for (const name of Object.keys(subpath)) expect(root, name).not.toHaveProperty(name);
    }
    for (const name of ['spendReport', 'spendReportCsv', 'SpendLog', 'recordSpend']) {
      expect(reports, name).toHaveProperty(name);
    }
    for (const name of ['createWebhookSink', 'signWebhookBody', 'verifyWebhookSignature']) {
      expect(webhooks, name).toHaveProperty(name);
    }
    for (const name of [
      'parseLedgerConfig',
      'DuplicateLedgerError',
      'LedgerInUseError',
      'createFileJournal',
    ]) {
      expect(ledgerKit, name).toHaveProperty(name);
      expect(root, name).not.toHaveProperty(name);
    }
  });
});
