import { describe, expect, it } from 'vitest';
import { normalizeModelId } from './model-id.ts';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';

describe('normalizeModelId', () => {
  it('keeps base ids and tells the family', () => {
    expect(normalizeModelId(HAIKU)).toEqual({ modelId: HAIKU, family: 'anthropic' });
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
    expect(normalizeModelId(arn)).toEqual({ modelId: arn, family: 'other' });
    expect(normalizeModelId('usx.model').modelId).toBe('usx.model');
  });
});
