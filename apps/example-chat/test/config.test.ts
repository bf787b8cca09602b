import { InvalidConfigError } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.ts';

describe('readConfig', () => {
  it('defaults to the emulator, $0.05 a day and two demo keys', () => {
    const config = readConfig({}, 3000);
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dailyBudgetMicrocents: 5_000_000,
      awsRegion: undefined,
      modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    });
    expect([...config.apiKeys]).toEqual([
      ['demo-key-acme', 'acme'],
      ['demo-key-globex', 'globex'],
    ]);
  });

  it('selects real Bedrock from AWS_REGION (inference-profile model id), unless BEDROCK_EMULATOR=1', () => {
    expect(readConfig({ AWS_REGION: 'eu-west-1' }, 3000)).toMatchObject({
      awsRegion: 'eu-west-1',
      modelId: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
    });
    expect(readConfig({ AWS_DEFAULT_REGION: 'us-west-2', BEDROCK_MODEL_ID: 'm.x-v1:0' }, 3000)).toMatchObject(
      {
        awsRegion: 'us-west-2',
        modelId: 'm.x-v1:0',
      },
    );
    expect(readConfig({ AWS_REGION: 'eu-west-1', BEDROCK_EMULATOR: '1' }, 3000).awsRegion).toBeUndefined();
  });

  it('rejects invalid values, naming the variable', () => {
    const failure = (env: Record<string, string>) => {
      try {
        readConfig(env, 3000);
      } catch (error) {
        return error;
      }
      throw new Error('expected readConfig to throw');
    };
    const budget = failure({ DAILY_BUDGET_USD: 'ten' });
    expect(budget).toBeInstanceOf(InvalidConfigError);
    expect((budget as InvalidConfigError).message).toMatch(/^DAILY_BUDGET_USD must be a positive amount/);
    expect((failure({ PORT: '70000' }) as Error).message).toMatch(/^PORT must be a port number/);
    expect((failure({ API_KEYS: 'only-a-key' }) as Error).message).toMatch(
      /^API_KEYS must be comma-separated/,
    );
    expect((failure({ API_KEYS: 'k:bad tenant' }) as Error).message).toMatch(/^API_KEYS/);
  });

  it('reads the alert webhook: https anywhere, http only to localhost, always with a secret', () => {
    expect(readConfig({}, 3000).alertWebhook).toBeUndefined();
    expect(
      readConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/x', ALERT_WEBHOOK_SECRET: 's3cret' }, 3000)
        .alertWebhook,
    ).toEqual({ url: 'https://hooks.example.com/x', secret: 's3cret', allowHttp: false });
    expect(
      readConfig({ ALERT_WEBHOOK_URL: 'http://127.0.0.1:9000/a', ALERT_WEBHOOK_SECRET: 's' }, 3000)
        .alertWebhook?.allowHttp,
    ).toBe(true);
    const refuse = (env: Record<string, string>) => () => readConfig(env, 3000);
    expect(refuse({ ALERT_WEBHOOK_URL: 'https://x.example/a' })).toThrow(/^ALERT_WEBHOOK_SECRET is required/);
    expect(refuse({ ALERT_WEBHOOK_URL: 'http://x.example/a', ALERT_WEBHOOK_SECRET: 's' })).toThrow(
      /^ALERT_WEBHOOK_URL must be https/,
    );
    expect(refuse({ ALERT_WEBHOOK_URL: 'nope', ALERT_WEBHOOK_SECRET: 's' })).toThrow(InvalidConfigError);
  });
});
