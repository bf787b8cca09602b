import { createHash } from 'node:crypto';
import { cacheablePrefix, countInputTokens, type PromptSegment } from './tokens.ts';

/** How a request's input tokens split between plain input and the prompt cache. */
export interface InputAccounting {
  /** Tokens of the whole prompt (what CountTokens answers). */
  totalInputTokens: number;
  /** Non-cached input tokens, as Bedrock reports `inputTokens` (total minus cache read/write). */
  inputTokens: number;
  /** Tokens of a prefix seen before. */
  cacheReadInputTokens: number;
  /** Tokens of a prefix seen for the first time. */
  cacheWriteInputTokens: number;
  /** The part of `cacheWriteInputTokens` written with a 1-hour TTL (the last checkpoint's TTL). */
  cacheWrite1hInputTokens: number;
}

function lastTtl(segments: readonly PromptSegment[]): '1h' | undefined {
  for (let index = segments.length - 1; index >= 0; index--) {
    const segment = segments[index];
    if (segment?.kind === 'cachePoint') return segment.ttl;
  }
  return undefined;
}

/**
 * The emulator's prompt cache. Rule: the cacheable prefix is everything before the LAST cache checkpoint
 * (`cachePoint` block or `cache_control`); the first request with a given prefix (per resolved model)
 * writes it, later ones read it. Entries never expire; `reset()` forgets everything. A write takes the
 * TTL of the last checkpoint (`ttl: '1h'` on a cachePoint or cache_control), reported per TTL.
 */
export class PromptCache {
  readonly #seen = new Set<string>();

  /** Split a prompt's tokens into input / cache read / cache write, remembering its prefix. */
  account(resolvedModelId: string, segments: readonly PromptSegment[]): InputAccounting {
    const totalInputTokens = countInputTokens(segments);
    const prefix = cacheablePrefix(segments);
    const prefixTokens = prefix ? countInputTokens(prefix) : 0;
    if (!prefix || prefixTokens === 0) {
      return {
        totalInputTokens,
        inputTokens: totalInputTokens,
        cacheReadInputTokens: 0,
        cacheWriteInputTokens: 0,
        cacheWrite1hInputTokens: 0,
      };
    }
    const key = createHash('sha256')
      .update(resolvedModelId)
      .update('\0')
      .update(JSON.stringify(prefix))
      .digest('hex');
    const hit = this.#seen.has(key);
    this.#seen.add(key);
    return {
      totalInputTokens,
      inputTokens: totalInputTokens - prefixTokens,
      cacheReadInputTokens: hit ? prefixTokens : 0,
      cacheWriteInputTokens: hit ? 0 : prefixTokens,
      cacheWrite1hInputTokens: hit || lastTtl(segments) !== '1h' ? 0 : prefixTokens,
    };
  }

  /** Forget every cached prefix. */
  clear(): void {
    this.#seen.clear();
  }
}
