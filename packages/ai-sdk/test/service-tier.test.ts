import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { tokenCost, usageCost } from '@cycles-guard/core/llm';
import { generateText } from 'ai';
import { describe, expect, it } from 'vitest';
import { budget, cyclesMetadata, guardedModel } from './helpers.ts';

const GPT_OSS = 'openai.gpt-oss-120b-1:0';

describe('providerOptions.bedrock.serviceTier', () => {
  it('holds and commits a priority call at the priority rate', async () => {
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 30 });
    try {
      const b = budget(1e12);
      const model = guardedModel(emulator.url, GPT_OSS, { cycles: b.cycles });
      const result = await generateText({
        model,
        prompt: 'Hello',
        maxOutputTokens: 200,
        providerOptions: { bedrock: { serviceTier: 'priority' }, cycles: { inputTokens: 1000 } },
      });
      const rates = b.cycles.catalog.resolve(GPT_OSS, { serviceTier: 'priority' }).rates.rates;
      expect(rates.inputPerMillion).toBeGreaterThan(
        b.cycles.catalog.resolve(GPT_OSS).rates.rates.inputPerMillion,
      );
      const metadata = cyclesMetadata(result.providerMetadata);
      const detail = await b.ledger.getReservation(metadata.reservationId as string);
      expect(detail.reserved.amount).toBe(
        tokenCost(1000, rates.inputPerMillion) + tokenCost(200, rates.outputPerMillion),
      );
      const sent = emulator.requests[0];
      expect(sent?.serviceTier).toBe('priority');
      expect(detail.committed?.amount).toBe(
        usageCost({ inputTokens: sent?.inputTokens ?? 0, outputTokens: sent?.outputTokens ?? 0 }, rates),
      );
      expect(detail.committedMetadata).toMatchObject({ service_tier: 'priority' });
    } finally {
      await emulator.close();
    }
  });
});
