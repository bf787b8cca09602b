import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatRequestError, chat, parseChatRequest, startChatStream } from '../src/chat.ts';
import { ChatTestBed, MODEL, OUTPUT_PRICE, priceOf } from '../src/testing.ts';

const bed = new ChatTestBed();
beforeAll(() => bed.start());
afterEach(() => bed.reset());
afterAll(() => bed.close());

describe('parseChatRequest', () => {
  it('accepts a JSON body or a query string, with maxTokens defaulting to 512', () => {
    expect(parseChatRequest({ message: 'hi' })).toEqual({ message: 'hi', maxTokens: 512 });
    expect(parseChatRequest({ message: 'hi', maxTokens: 24 })).toEqual({ message: 'hi', maxTokens: 24 });
    expect(parseChatRequest({ message: 'hi', maxTokens: '40' })).toEqual({ message: 'hi', maxTokens: 40 });
  });

  it('names the field it cannot use', () => {
    const field = (input: unknown) => {
      try {
        parseChatRequest(input);
      } catch (error) {
        return error instanceof ChatRequestError ? error.field : error;
      }
      throw new Error('expected parseChatRequest to throw');
    };
    expect(field(undefined)).toBe('message');
    expect(field({ message: '  ' })).toBe('message');
    expect(field({ message: 'x'.repeat(20_001) })).toBe('message');
    expect(field({ message: 'hi', maxTokens: 0 })).toBe('maxTokens');
    expect(field({ message: 'hi', maxTokens: 8_193 })).toBe('maxTokens');
    expect(field({ message: 'hi', maxTokens: '1.5' })).toBe('maxTokens');
  });
});

describe('chat and startChatStream on the guarded client', () => {
  it('chat returns the reply, usage and what the guard charged', async () => {
    const cycles = bed.budgets(5_000_000);
    const result = await cycles.run({ subject: { tenant: 'acme' } }, () =>
      chat(bed.client, MODEL, { message: 'Hello there', maxTokens: 24 }),
    );
    expect(result.reply.length).toBeGreaterThan(0);
    expect(result).toMatchObject({ stopReason: 'max_tokens', usage: { outputTokens: 24 } });
    expect(result.budget).toEqual({
      chargedMicrocents: priceOf(result.usage),
      requestedMaxTokens: 24,
      grantedMaxTokens: 24,
      capped: false,
    });
    expect(await bed.ledger('acme')).toEqual({ spent: priceOf(result.usage), reserved: 0 });
  });

  it('startChatStream yields the deltas, then the result with the charge', async () => {
    const cycles = bed.budgets(5_000_000);
    const { deltas, result } = await cycles.run({ subject: { tenant: 'acme' } }, async () => {
      const stream = await startChatStream(bed.client, MODEL, { message: 'Stream please', maxTokens: 40 });
      const texts: string[] = [];
      for await (const text of stream.deltas) texts.push(text);
      return { deltas: texts, result: stream.result() };
    });
    // 16 tokens per delta on the emulator.
    expect(deltas).toHaveLength(3);
    expect(result.reply).toBe(deltas.join(''));
    expect(result.usage.outputTokens).toBe(40);
    expect(result.budget.chargedMicrocents).toBe(priceOf(result.usage));
    expect(bed.emulator.requests[0]).toMatchObject({ operation: 'ConverseStream', outputTokens: 40 });
  });

  it('a denied call rejects before anything is sent to Bedrock', async () => {
    const cycles = bed.budgets(10 * OUTPUT_PRICE);
    await expect(
      cycles.run({ subject: { tenant: 'acme' } }, () =>
        startChatStream(bed.client, MODEL, { message: 'hi', maxTokens: 100 }),
      ),
    ).rejects.toMatchObject({ name: expect.stringMatching(/Budget/) });
    expect(bed.emulator.requests).toHaveLength(0);
  });
});
