import { CyclesError } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { applyServerEnv, parseServerConfig } from '../src/config.ts';

// The server's Redis Cluster configuration: `ledger.cluster` in the file, CYCLES_REDIS_CLUSTER_NODES in
// the environment; bad values name their field.

function fieldOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    if (CyclesError.isInstance(error)) return error.details?.field;
    throw error;
  }
  throw new Error('expected a typed error');
}

describe('Redis Cluster config', () => {
  it('reads seed nodes from the file and from the environment (which keeps the file prefix)', () => {
    const nodes = ['10.0.0.1:7000', 'redis-b:7001'];
    expect(parseServerConfig({ ledger: { type: 'redis', cluster: nodes, keyPrefix: 'p:' } }).ledger).toEqual({
      type: 'redis',
      cluster: nodes,
      keyPrefix: 'p:',
    });
    const fromFile = parseServerConfig({
      ledger: { type: 'redis', url: 'redis://one:6379', keyPrefix: 'f:' },
    });
    const config = applyServerEnv(fromFile, { CYCLES_REDIS_CLUSTER_NODES: ' 10.0.0.1:7000 , redis-b:7001 ' });
    expect(config.ledger).toEqual({ type: 'redis', cluster: nodes, keyPrefix: 'f:' });
    expect(
      applyServerEnv(parseServerConfig({}), {
        CYCLES_REDIS_CLUSTER_NODES: '10.0.0.1:7000',
        CYCLES_REDIS_KEY_PREFIX: 'e:',
      }).ledger,
    ).toEqual({ type: 'redis', cluster: ['10.0.0.1:7000'], keyPrefix: 'e:' });
  });

  it.each([
    [{ ledger: { type: 'redis', cluster: [] } }, 'ledger.cluster'],
    [{ ledger: { type: 'redis', cluster: ['no-port'] } }, 'ledger.cluster'],
    [{ ledger: { type: 'redis', cluster: 'a:1' } }, 'ledger.cluster'],
    [{ ledger: { type: 'redis', cluster: ['a:1'], url: 'redis://a:1' } }, 'ledger.url'],
  ])('rejects %j naming %s', (json, field) => {
    expect(fieldOf(() => parseServerConfig(json))).toBe(field);
  });

  it('refuses bad or conflicting environment values, naming the variable', () => {
    const base = parseServerConfig({});
    expect(fieldOf(() => applyServerEnv(base, { CYCLES_REDIS_CLUSTER_NODES: 'a:1,,b:2' }))).toBe(
      'CYCLES_REDIS_CLUSTER_NODES',
    );
    expect(
      fieldOf(() =>
        applyServerEnv(base, { CYCLES_REDIS_CLUSTER_NODES: 'a:1', CYCLES_REDIS_URL: 'redis://a:1' }),
      ),
    ).toBe('CYCLES_REDIS_CLUSTER_NODES');
  });
});
