import type { LanguageModelV3, LanguageModelV3Middleware } from '@ai-sdk/provider';
import { StreamSettler } from '@cycles-guard/core/llm';
import type { LanguageModelMiddleware } from 'ai';
import { beginModelCall } from './begin-call.ts';
import { metadata, withMetadata } from './call-metadata.ts';
import { settleThrown } from './failure.ts';
import { guardStream } from './guard-stream.ts';
import type { CyclesMiddlewareOptions } from './options.ts';
import { tokenUsage } from './usage.ts';

/**
 * AI SDK language-model middleware: every inner model call (each tool-loop step, each retry) reserves
 * its worst case before the request leaves, sends `maxOutputTokens` cut to what the hold pays for, and
 * settles exactly once from the reported usage. Use with `wrapLanguageModel({ model, middleware })`.
 * A denial throws `BudgetExceededError`, which the AI SDK does not retry.
 *
 * The return type is the installed `ai`'s own `LanguageModelMiddleware`, so one package serves ai@6
 * (spec v3) and ai@7 (spec v4): the hooks have the same shapes in both, ai@7 accepts any
 * `specificationVersion`, and the guard reads only fields both versions share.
 */
export function cyclesModelMiddleware(options: CyclesMiddlewareOptions = {}): LanguageModelMiddleware {
  const middleware: LanguageModelV3Middleware = {
    specificationVersion: 'v3',
    async wrapGenerate({ params, model }) {
      const { call, sent } = await beginModelCall(options, params, model);
      let result: Awaited<ReturnType<LanguageModelV3['doGenerate']>>;
      try {
        result = await model.doGenerate(sent);
      } catch (error) {
        await settleThrown(call, error, sent.abortSignal);
        throw error;
      }
      // No usage from an answered call: core's settler charges the whole hold (never $0).
      const settlement = await new StreamSettler(call).finish(tokenUsage(result.usage));
      return {
        ...result,
        providerMetadata: withMetadata(result.providerMetadata, metadata(call, settlement)),
      };
    },
    async wrapStream({ params, model }) {
      const { call, sent } = await beginModelCall(options, params, model);
      let result: Awaited<ReturnType<LanguageModelV3['doStream']>>;
      try {
        result = await model.doStream(sent);
      } catch (error) {
        await settleThrown(call, error, sent.abortSignal);
        throw error;
      }
      const stream = guardStream(result.stream, call, (part, settlement) => ({
        ...part,
        providerMetadata: withMetadata(part.providerMetadata, metadata(call, settlement)),
      }));
      return { ...result, stream };
    },
  };
  return middleware as unknown as LanguageModelMiddleware;
}

/**
 * @deprecated Renamed {@link cyclesModelMiddleware}: `@cycles-guard/express` exports a
 * `cyclesMiddleware` too, and an app using both needed an alias.
 */
export const cyclesMiddleware = cyclesModelMiddleware;
