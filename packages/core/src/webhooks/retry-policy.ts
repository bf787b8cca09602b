import { invalid } from '../protocol/errors.ts';

/** GOV `WebhookRetryPolicy` (camelCase). */
export interface WebhookRetryPolicy {
  /** Retries after the first attempt, 0–10. Default 5. */
  maxRetries: number;
  /** 100–60,000. Default 1,000. */
  initialDelayMs: number;
  /** 1.0–10.0. Default 2.0. */
  backoffMultiplier: number;
  /** 1,000–3,600,000. Default 60,000. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<WebhookRetryPolicy> = Object.freeze({
  maxRetries: 5,
  initialDelayMs: 1000,
  backoffMultiplier: 2,
  maxDelayMs: 60_000,
});

const RANGES: Record<keyof WebhookRetryPolicy, [number, number, string, boolean]> = {
  maxRetries: [0, 10, 'max_retries', true],
  initialDelayMs: [100, 60_000, 'initial_delay_ms', true],
  backoffMultiplier: [1, 10, 'backoff_multiplier', false],
  maxDelayMs: [1000, 3_600_000, 'max_delay_ms', true],
};

/** The policy with defaults filled in; a value out of the spec's range is a 400 naming its wire field. */
export function retryPolicyOf(partial: Partial<WebhookRetryPolicy> = {}): WebhookRetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...partial };
  for (const [name, [min, max, wire, integer]] of Object.entries(RANGES)) {
    const value = policy[name as keyof WebhookRetryPolicy];
    if (typeof value !== 'number' || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw invalid(
        `retry_policy.${wire}`,
        `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
        `send a value in range or omit it for the default`,
      );
    }
  }
  return policy;
}

/** The delay before retry `retry` (1-based): initial × multiplier^(retry-1), at most maxDelayMs. */
export function retryDelayMs(policy: WebhookRetryPolicy, retry: number): number {
  return Math.min(
    policy.maxDelayMs,
    Math.round(policy.initialDelayMs * policy.backoffMultiplier ** (retry - 1)),
  );
}
