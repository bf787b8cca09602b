import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type CyclesEvent, createCycles } from '@cycles-guard/core';
import express, { type Request } from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cyclesErrorHandler, cyclesMiddleware, cyclesRoute } from '../src/index.ts';
import { guardedBedrockClient, sonnetChatRoute } from './support/guarded-bedrock.ts';

// Observe mode through Express (createCycles({ mode: 'observe' })): the adapter is unchanged; core
// evaluates every call, refuses and caps nothing, and reports what enforcement would have done.

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const waitFor = <T>(check: () => T | Promise<T>) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

function observing(allocated: number) {
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    mode: 'observe',
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated }],
    onEvent: (event) => {
      events.push(event);
    },
  });
  const observed = () =>
    events.filter((event): event is Extract<CyclesEvent, { type: 'observed' }> => event.type === 'observed');
  return { cycles, observed };
}

describe('observe mode on Express', () => {
  let emulator: BedrockEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('a Bedrock call the budget would refuse runs uncapped and is reported as a would-be denial', async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    const client = guardedBedrockClient(emulator.url);
    const { cycles, observed } = observing(1_000); // too small for any Sonnet call when enforced
    const app = express();
    app.use(cyclesMiddleware({ cycles, subject: (req: Request) => ({ tenant: req.get('x-tenant') }) }));
    app.post('/chat', sonnetChatRoute(client));
    app.use(cyclesErrorHandler());

    const answered = await request(app).post('/chat').set('x-tenant', 'acme');
    expect(answered.status).toBe(200);
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.requests[0]?.maxTokens).toBe(4_096); // not capped to the budget
    expect(observed()).toMatchObject([
      {
        wouldDeny: true,
        reasonCode: 'BUDGET_EXCEEDED',
        denyDetail: { reasonCode: 'BUDGET_EXCEEDED', blockedByScope: 'tenant:acme', budgetRemaining: 1_000 },
        subject: { tenant: 'acme' },
      },
    ]);
    // What the call cost is recorded (capped at what was left), so the budget shows it as spent.
    await waitFor(async () => {
      const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
      expect(balances[0]?.spent?.amount).toBe(1_000);
      expect(balances[0]?.reserved?.amount ?? 0).toBe(0);
    });
  });

  it('cyclesRoute never answers 429 in observe mode; the counts of would-be denials are in the events', async () => {
    const { cycles, observed } = observing(100);
    const app = express();
    app.use(cyclesMiddleware({ cycles, subject: (req: Request) => ({ tenant: req.get('x-tenant') }) }));
    app.post('/resize', cyclesRoute({ estimate: 60, actionKind: 'image.resize' }), (_request, response) => {
      response.json({ ok: true });
    });
    app.use(cyclesErrorHandler());
    const statuses: number[] = [];
    for (let call = 0; call < 4; call++) {
      statuses.push((await request(app).post('/resize').set('x-tenant', 'acme')).status);
      await waitFor(() => expect(observed()).toHaveLength(call + 1));
      await cycles.flushSettlements();
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    await waitFor(async () => {
      const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
      expect(balances[0]?.spent?.amount).toBe(100);
    });
    // Enforced, the second call would already have been refused (60 + 60 > 100).
    expect(observed().map((event) => event.wouldDeny)).toEqual([false, true, true, true]);
  });
});
