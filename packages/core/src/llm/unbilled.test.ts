import { describe, expect, it } from 'vitest';
import { failedBeforeConnecting, isUnbilledFailure } from './unbilled.ts';

const coded = (code: string, cause?: unknown) => Object.assign(new Error(code, { cause }), { code });

describe('isUnbilledFailure', () => {
  it('a 4xx or 503 answer was not billed; a 5xx otherwise may have been', () => {
    for (const status of [400, 403, 429, 499, 503]) expect(isUnbilledFailure(status, undefined)).toBe(true);
    for (const status of [500, 502, 504, 200])
      expect(isUnbilledFailure(status, coded('ECONNREFUSED'))).toBe(false);
  });

  it('no answer: unbilled only when the request never connected', () => {
    expect(isUnbilledFailure(undefined, coded('ECONNREFUSED'))).toBe(true);
    // fetch wraps the socket error: TypeError('fetch failed', { cause: { code } }) inside the SDK's own error.
    const fetchFailed = new Error('Cannot connect to API', {
      cause: new TypeError('fetch failed', { cause: coded('ENOTFOUND') }),
    });
    expect(isUnbilledFailure(undefined, fetchFailed)).toBe(true);
    expect(isUnbilledFailure(undefined, new AggregateError([coded('EHOSTUNREACH')]))).toBe(true);
    for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ETIMEDOUT']) {
      expect(isUnbilledFailure(undefined, coded(code)), code).toBe(false);
    }
    expect(isUnbilledFailure(undefined, new Error('socket hang up'))).toBe(false);
    expect(isUnbilledFailure(undefined, undefined)).toBe(false);
  });

  it('survives cyclic cause chains', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(failedBeforeConnecting(a)).toBe(false);
  });
});
