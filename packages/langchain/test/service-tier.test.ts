import { tokenCost, usageCost } from '@cycles-guard/core/llm';
import { describe, expect, it } from 'vitest';
import { guardedModel } from './helpers.ts';

const GPT_OSS = 'openai.gpt-oss-120b-1:0';

describe('ChatBedrockConverse serviceTier', () => {
  it('holds and commits a flex call at the flex rate', async () => {
    const setup = await guardedModel(
      1e12,
      { model: GPT_OSS, serviceTier: 'flex', maxTokens: 200 },
      { inputTokens: () => 1000 },
      { outputTokens: 25 },
    );
    try {
      await setup.model.invoke('Hello');
      const rates = setup.cycles.catalog.resolve(GPT_OSS, { serviceTier: 'flex' }).rates.rates;
      expect(rates.inputPerMillion).toBeLessThan(
        setup.cycles.catalog.resolve(GPT_OSS).rates.rates.inputPerMillion,
      );
      const sent = setup.emulator.requests.at(-1);
      expect(sent?.serviceTier).toBe('flex');
      const state = await setup.state();
      expect(state.spent).toBe(
        usageCost({ inputTokens: sent?.inputTokens ?? 0, outputTokens: sent?.outputTokens ?? 0 }, rates),
      );
      const [reservation] = (await setup.ledger.listReservations({ tenant: 'acme' })).reservations;
      expect(reservation?.reserved.amount).toBe(
        tokenCost(1000, rates.inputPerMillion) + tokenCost(200, rates.outputPerMillion),
      );
      const detail = await setup.ledger.getReservation(reservation?.reservationId ?? '');
      expect(detail.committedMetadata).toMatchObject({ service_tier: 'flex' });
    } finally {
      await setup.emulator.close();
    }
  });
});
