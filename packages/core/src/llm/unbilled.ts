// When a failed provider request certainly cost nothing, so its hold may be released. Everything else
// may have been billed and is charged (never $0): a reset or timeout after the request was written
// leaves Bedrock free to have run, and billed, the whole call.

/** Error codes raised before a connection existed: no byte of the request reached the provider. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether a request failed before it connected (walks `cause` and `AggregateError` chains). */
export function failedBeforeConnecting(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending = [error];
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string' && NOT_CONNECTED.has(code)) return true;
    pending.push(cause);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return false;
}

/**
 * Whether a provider request that failed was certainly not billed: Bedrock refused it (a 4xx such as
 * 429 throttling or 400 validation, or 503), or it never connected. Pass the HTTP status when the
 * provider answered one. An abort, a 5xx, or a transport failure after connecting may have been
 * billed: not unbilled.
 */
export function isUnbilledFailure(status: number | undefined, error: unknown): boolean {
  if (status !== undefined) return (status >= 400 && status < 500) || status === 503;
  return failedBeforeConnecting(error);
}
