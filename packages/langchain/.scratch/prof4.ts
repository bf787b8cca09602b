import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { CyclesCallbackHandler } from '../src/index.ts';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const ledger = createMemoryLedger({ sweepIntervalMs: 0, ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }] });
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
class Noop extends BaseCallbackHandler { name = 'noop'; constructor() { super({ raiseError: true }); } async handleChatModelStart() {} async handleLLMEnd() {} }
const mk = () => new FakeListChatModel({ responses: ['hello there'] });
const plain = mk(); const noop = mk(); noop.callbacks = [new Noop()];
const guarded = mk(); guarded.callbacks = [new CyclesCallbackHandler({ cycles, model: MODEL })];
const t: Record<string, number[]> = { plain: [], noop: [], guarded: [] };
const now = () => Number(process.hrtime.bigint()) / 1000;
for (let i = 0; i < 6000; i++) {
  for (const [k, m] of Object.entries({ plain, noop, guarded })) {
    const s = now(); await m.invoke('Tell me about budgets.'); if (i > 1000) t[k]!.push(now() - s);
  }
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
console.log(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, med(v)])));
