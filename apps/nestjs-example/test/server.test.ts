import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { startMain } from '@cycles-guard/example-chat/testing';
import { describe, expect, it } from 'vitest';
import { startExample } from '../src/server.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('startExample', () => {
  it('starts the in-process emulator when no AWS region is configured, and serves the chat API', async () => {
    const example = await startExample({ PORT: '0', DAILY_BUDGET_USD: '0.01' });
    try {
      expect(example.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(example.bedrockTarget).toMatch(/^emulator at http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${example.url}/chat`, {
        method: 'POST',
        headers: { 'x-api-key': 'demo-key-acme', 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'Hello' }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { tenant: string; budget: { chargedMicrocents: number } };
      expect(body.tenant).toBe('acme');
      const balances = await fetch(`${example.url}/balances`, { headers: { 'x-api-key': 'demo-key-acme' } });
      expect(await balances.json()).toMatchObject({
        balances: [{ allocated: 1_000_000, spent: body.budget.chargedMicrocents }],
      });
    } finally {
      await example.close();
    }
  });
});

describe('pnpm start (src/main.ts)', () => {
  it('prints the URL it listens on, serves requests, and exits 0 on SIGTERM', async () => {
    const main = await startMain(fileURLToPath(new URL('..', import.meta.url)));
    try {
      const balances = await fetch(`${main.url}/balances`, { headers: { 'x-api-key': 'demo-key-globex' } });
      expect(await balances.json()).toEqual({ tenant: 'globex', balances: [] });
    } finally {
      expect(await main.stop()).toBe(0);
    }
  }, 90_000);
});
