import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisCluster, startRedisServer } from '../src/testing/index.ts';

describe('startRedisServer', () => {
  it('fails (never skips) when redis-server is missing, naming the fix', async () => {
    await expect(startRedisServer({ binary: '/nonexistent/redis-server' })).rejects.toThrow(
      /apt-get install redis-server|REDIS_SERVER_BIN/,
    );
  });

  it('serves on a free port with AOF on, and keeps data across a restart', async () => {
    const server = await startRedisServer();
    try {
      const client = new Redis(server.url, { lazyConnect: true });
      await client.connect();
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      await client.set('kept', 'yes');
      client.disconnect();
      await server.restart();
      const again = new Redis(server.url);
      expect(await again.get('kept')).toBe('yes');
      again.disconnect();
    } finally {
      await server.remove();
    }
  });
});

describe('startRedisCluster', () => {
  it('fails (never skips) when redis-cli is missing, naming the fix', async () => {
    await expect(startRedisCluster({ cli: '/nonexistent/redis-cli' })).rejects.toThrow(
      /apt-get install redis-tools\) or set REDIS_CLI_BIN/,
    );
  });
});
