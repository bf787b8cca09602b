import { isUnbilledFailure } from '@cycles-guard/core/llm';
import { asObject } from './json.ts';

/** The HTTP status of an AWS SDK error (`$metadata.httpStatusCode`), when Bedrock answered one. */
export function sdkErrorStatus(error: unknown): number | undefined {
  const status = asObject(asObject(error)?.$metadata)?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Whether a failed Bedrock request was certainly not billed (core's rule, `isUnbilledFailure`, on the
 * SDK's error shape). An abort never is: the request may have run. `status` wins over the error's.
 */
export function unbilledBedrockFailure(error: unknown, status?: number): boolean {
  if (asObject(error)?.name === 'AbortError') return false;
  return isUnbilledFailure(status ?? sdkErrorStatus(error), error);
}
