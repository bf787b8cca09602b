import { InvalidConfigError } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { tenantBalances, toBalanceView } from '../src/balances.ts';
import { chat } from '../src/chat.ts';
import { type ChatAppDeps, startExample } from '../src/example.ts';
import { MODEL } from '../src/testing.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('startExample', () => {
  it('hands the app the emulator-backed client, template budgets and config, and closes them', async () => {
    let deps: ChatAppDeps | undefined;
    let closed = false;
    const example = await startExample(
      { PORT: '4321', DAILY_BUDGET_USD: '0.01' },
      {
        defaultPort: 3000,
        listen: async (given) => {
          deps = given;
          return {
            port: given.config.port,
            close: async () => {
              closed = true;
            },
          };
        },
      },
    );
    expect(example.url).toBe('http://127.0.0.1:4321');
    expect(example.bedrockTarget).toMatch(/^emulator at http:\/\/127\.0\.0\.1:\d+$/);
    expect(deps!.config).toMatchObject({ port: 4321, dailyBudgetMicrocents: 1_000_000, modelId: MODEL });
    const result = await deps!.cycles.run({ subject: { tenant: 'acme' } }, () =>
      chat(deps!.client, MODEL, { message: 'hi', maxTokens: 16 }),
    );
    const [balance] = await tenantBalances(deps!.cycles, 'acme');
    expect(balance).toMatchObject({
      scope: 'tenant:acme',
      unit: 'USD_MICROCENTS',
      allocated: 1_000_000,
      spent: result.budget.chargedMicrocents,
      reserved: 0,
      remaining: 1_000_000 - result.budget.chargedMicrocents!,
      resetsAt: expect.stringMatching(/T00:00:00\.000Z$/),
    });
    expect(await tenantBalances(deps!.cycles, 'globex')).toEqual([]);
    await example.close();
    expect(closed).toBe(true);
  });

  it('rejects an invalid environment before starting anything, and cleans up when the app fails to listen', async () => {
    await expect(
      startExample(
        { DAILY_BUDGET_USD: 'ten' },
        { defaultPort: 3000, listen: () => Promise.reject(new Error()) },
      ),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(
      startExample({}, { defaultPort: 0, listen: () => Promise.reject(new Error('EADDRINUSE')) }),
    ).rejects.toThrow('EADDRINUSE');
  });
});

describe('toBalanceView', () => {
  it('resets at the next UTC midnight', () => {
    const view = toBalanceView(
      {
        scopePath: 'tenant:acme',
        remaining: { unit: 'USD_MICROCENTS', amount: 7 },
        allocated: { unit: 'USD_MICROCENTS', amount: 10 },
        spent: { unit: 'USD_MICROCENTS', amount: 3 },
      } as Parameters<typeof toBalanceView>[0],
      Date.parse('2026-11-23T13:00:00Z'),
    );
    expect(view).toEqual({
      scope: 'tenant:acme',
      unit: 'USD_MICROCENTS',
      allocated: 10,
      spent: 3,
      reserved: 0,
      remaining: 7,
      resetsAt: '2026-11-24T00:00:00.000Z',
    });
  });
});
