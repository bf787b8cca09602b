import { describe, expect, it } from 'vitest';
import { PromptCache } from './cache.ts';
import { chunkTokens, type GenerationRequest, generate } from './generator.ts';
import { BUILTIN_MODELS, resolveModel } from './models.ts';
import { anthropicSegments, converseSegments } from './prompt.ts';
import { countInputTokens, countTextTokens } from './tokens.ts';

describe('token rule', () => {
  it('counts ceil(utf8 bytes / 4) per text plus 4 per message', () => {
    expect(countTextTokens('')).toBe(0);
    expect(countTextTokens('abcd')).toBe(1);
    expect(countTextTokens('abcde')).toBe(2);
    expect(countTextTokens('é')).toBe(1); // 2 bytes
    const segments = converseSegments({
      system: [{ text: 'be brief' }],
      messages: [{ role: 'user', content: [{ text: 'hello world' }] }],
    });
    expect(countInputTokens(segments)).toBe(2 + 3 + 4);
  });

  it('reads Anthropic system strings, tools and cache_control checkpoints', () => {
    const segments = anthropicSegments({
      system: 'abcd',
      tools: [{ name: 't', input_schema: {}, cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    expect(segments.filter((segment) => segment.kind === 'cachePoint')).toHaveLength(1);
    expect(countInputTokens(segments)).toBe(countTextTokens('{"name":"t","input_schema":{}}') + 1 + 4 + 2);
  });

  it('splits a cached prefix into write first, read after', () => {
    const cache = new PromptCache();
    const segments = converseSegments({
      system: [{ text: 'x'.repeat(400) }, { cachePoint: { type: 'default' } }],
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    });
    expect(cache.account('m', segments)).toEqual({
      totalInputTokens: 105,
      inputTokens: 5,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 100,
      cacheWrite1hInputTokens: 0,
    });
    expect(cache.account('m', segments).cacheReadInputTokens).toBe(100);
    const oneHour = segments.map((segment) =>
      segment.kind === 'cachePoint' ? { kind: 'cachePoint' as const, ttl: '1h' as const } : segment,
    );
    expect(cache.account('m2', oneHour)).toMatchObject({
      cacheWriteInputTokens: 100,
      cacheWrite1hInputTokens: 100,
    });
  });
});

describe('models', () => {
  it('resolves inference profiles, ARNs and context suffixes', () => {
    const base = 'anthropic.claude-sonnet-4-20250514-v1:0';
    for (const id of [
      base,
      `us.${base}`,
      `global.${base}`,
      `arn:aws:bedrock:us-east-1::foundation-model/${base}`,
      `arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.${base}`,
    ]) {
      expect(resolveModel(id, BUILTIN_MODELS)).toMatchObject({ ok: true, resolvedModelId: base });
    }
    expect(resolveModel('anthropic.claude-3-haiku-20240307-v1:0:200k', BUILTIN_MODELS)).toMatchObject({
      ok: true,
    });
    expect(resolveModel('sonnet', BUILTIN_MODELS)).toEqual({ ok: false, reason: 'invalid' });
    expect(resolveModel('anthropic.claude-nope-v1:0', BUILTIN_MODELS)).toEqual({
      ok: false,
      reason: 'not-found',
    });
  });
});

describe('generator', () => {
  const request: GenerationRequest = {
    operation: 'Converse',
    modelId: 'm',
    resolvedModelId: 'm',
    maxTokens: 1000,
    inputTokens: 1,
    body: { a: 1 },
  };

  it('is deterministic per seed and request, and never exceeds maxTokens', () => {
    const first = generate(request, { seed: 7 });
    expect(generate(request, { seed: 7 })).toEqual(first);
    const capped = generate({ ...request, maxTokens: 5 }, { seed: 7, outputTokens: 6 });
    expect(capped).toMatchObject({ outputTokens: 5, truncated: true });
    expect(capped.text).toHaveLength(5);
    expect(generate({ ...request, maxTokens: 5 }, { seed: 7, outputTokens: 5 }).truncated).toBe(false);
  });

  it('fits reasoning inside the output tokens', () => {
    const result = generate(
      { ...request, maxTokens: 100 },
      { seed: 1, outputTokens: 500, reasoningBudget: 30 },
    );
    expect(result.reasoning).toHaveLength(30);
    expect(result.reasoning.length + result.text.length).toBe(100);
  });

  it('chunks tokens, never more than 64 per chunk', () => {
    const tokens = Array.from({ length: 130 }, (_, index) => `${index === 0 ? '' : ' '}w`);
    expect(chunkTokens(tokens, 1000).map((chunk) => chunk.tokens)).toEqual([64, 64, 2]);
    expect(chunkTokens(tokens, 16)).toHaveLength(9);
  });
});
