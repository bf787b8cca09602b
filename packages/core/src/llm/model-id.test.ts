import { describe, expect, it } from 'vitest';
import { idVariants, normalizeModelId } from './model-id.ts';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';

describe('normalizeModelId', () => {
  it('keeps base ids and tells the family', () => {
    expect(normalizeModelId(HAIKU)).toEqual({ modelId: HAIKU, family: 'anthropic', endpoint: 'in-region' });
    expect(normalizeModelId('amazon.nova-lite-v1:0').family).toBe('nova');
    expect(normalizeModelId('amazon.titan-text-express-v1').family).toBe('titan');
    expect(normalizeModelId('meta.llama3-1-70b-instruct-v1:0').family).toBe('llama');
    expect(normalizeModelId('mistral.mistral-large-2407-v1:0').family).toBe('mistral');
    expect(normalizeModelId('cohere.command-r-v1:0').family).toBe('other');
  });

  it.each(['us', 'eu', 'apac', 'au', 'ca', 'jp', 'us-gov', 'global'])(
    'strips the %s. profile prefix',
    (prefix) => {
      expect(normalizeModelId(`${prefix}.${HAIKU}`).modelId).toBe(HAIKU);
    },
  );

  it('takes the id out of foundation-model and inference-profile ARNs', () => {
    expect(normalizeModelId(`arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`).modelId).toBe(HAIKU);
    expect(
      normalizeModelId(`arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${HAIKU}`).modelId,
    ).toBe(HAIKU);
    expect(
      normalizeModelId(`arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.${HAIKU}`)
        .modelId,
    ).toBe(HAIKU);
  });

  it('is case-insensitive and trims', () => {
    expect(normalizeModelId(`  US.Anthropic.Claude-3-5-Haiku-20241022-V1:0 `)).toEqual({
      modelId: HAIKU,
      family: 'anthropic',
      endpoint: 'geo',
    });
    expect(
      normalizeModelId(`ARN:AWS:BEDROCK:US-EAST-1::FOUNDATION-MODEL/${HAIKU.toUpperCase()}`).modelId,
    ).toBe(HAIKU);
  });

  it('drops provisioned context suffixes', () => {
    expect(normalizeModelId('anthropic.claude-3-haiku-20240307-v1:0:200k').modelId).toBe(
      'anthropic.claude-3-haiku-20240307-v1:0',
    );
    expect(normalizeModelId('amazon.nova-pro-v1:0:300k').modelId).toBe('amazon.nova-pro-v1:0');
  });

  it('leaves application inference profiles and other ids alone', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';
    expect(normalizeModelId(arn)).toEqual({
      modelId: arn,
      family: 'other',
      endpoint: 'in-region',
      region: 'us-east-1',
      applicationProfile: true,
    });
    expect(normalizeModelId('usx.model').modelId).toBe('usx.model');
  });

  it('tells global, geo and in-region endpoints apart and reads an ARN region', () => {
    const sonnet = 'anthropic.claude-sonnet-4-6';
    expect(normalizeModelId(`global.${sonnet}`)).toMatchObject({ modelId: sonnet, endpoint: 'global' });
    for (const prefix of ['us', 'eu', 'jp', 'au', 'apac', 'ca', 'us-gov']) {
      expect(normalizeModelId(`${prefix}.${sonnet}`)).toMatchObject({ modelId: sonnet, endpoint: 'geo' });
    }
    expect(normalizeModelId(sonnet).endpoint).toBe('in-region');
    expect(normalizeModelId(`arn:aws:bedrock:eu-west-2::foundation-model/${sonnet}`)).toMatchObject({
      modelId: sonnet,
      endpoint: 'in-region',
      region: 'eu-west-2',
    });
    expect(
      normalizeModelId(`arn:aws:bedrock:ap-northeast-1:123456789012:inference-profile/global.${sonnet}`),
    ).toMatchObject({ modelId: sonnet, endpoint: 'global', region: 'ap-northeast-1' });
  });

  it('names the families of the newer providers', () => {
    expect(normalizeModelId('openai.gpt-oss-120b-1:0').family).toBe('openai');
    expect(normalizeModelId('qwen.qwen3-32b-v1:0').family).toBe('qwen');
    expect(normalizeModelId('us.deepseek.r1-v1:0').family).toBe('deepseek');
    expect(normalizeModelId('google.gemma-3-27b-it').family).toBe('other');
  });

  it('lists the other spellings of dated and undated ids', () => {
    expect(idVariants('anthropic.claude-opus-4-6-v1:0')).toEqual([
      'anthropic.claude-opus-4-6-v1',
      'anthropic.claude-opus-4-6',
    ]);
    expect(idVariants('anthropic.claude-sonnet-4-6')).toEqual([
      'anthropic.claude-sonnet-4-6-v1',
      'anthropic.claude-sonnet-4-6:0',
      'anthropic.claude-sonnet-4-6-v1:0',
    ]);
  });
});
