import { describe, expect, it } from 'vitest';
import { linkCallOptions, RUN_LINK_KEY, unlinkRequest } from './run-link.ts';

describe('run link', () => {
  it('round-trips the run id through requestMetadata and keeps user metadata', () => {
    const userMetadata = { team: 'search' };
    const options: Record<string, unknown> = { requestMetadata: userMetadata };
    linkCallOptions(options, 'run-1');
    expect(userMetadata).toEqual({ team: 'search' }); // the caller's object is not mutated
    const { runId, input } = unlinkRequest({ modelId: 'm', requestMetadata: options.requestMetadata });
    expect(runId).toBe('run-1');
    expect(input).toEqual({ modelId: 'm', requestMetadata: { team: 'search' } });
  });

  it('drops requestMetadata it created, and leaves untagged requests alone', () => {
    const options: Record<string, unknown> = {};
    linkCallOptions(options, 'run-2');
    expect(unlinkRequest({ modelId: 'm', requestMetadata: options.requestMetadata }).input).toEqual({
      modelId: 'm',
    });
    const untagged = { modelId: 'm', requestMetadata: { a: 'b' } };
    expect(unlinkRequest(untagged)).toEqual({ runId: undefined, input: untagged });
    expect(unlinkRequest({ requestMetadata: { [RUN_LINK_KEY]: 7 } }).runId).toBeUndefined();
  });
});
