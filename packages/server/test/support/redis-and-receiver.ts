import type { RedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll } from 'vitest';
import { type RecordingReceiver, startRecordingReceiver } from './recording-receiver.ts';
import { useRedisServer } from './redis-server.ts';

/**
 * A real redis-server and a recording webhook receiver for one test file: started before its tests,
 * closed after them. The receiver appends each body it is sent to `received` under its request path.
 */
export function useRedisAndReceiver<T>(received: Map<string, T[]>) {
  const redis = useRedisServer();
  let receiver: RecordingReceiver | undefined;
  beforeAll(async () => {
    receiver = await startRecordingReceiver(received);
  });
  afterAll(async () => {
    await receiver?.close();
  });
  return {
    get redis(): RedisServer {
      return redis.server;
    },
    /** `http://127.0.0.1:<port>` of the receiver: a subscription's path tells its deliveries apart. */
    get hookBase(): string {
      if (receiver === undefined) throw new Error('webhook receiver not started yet');
      return receiver.base;
    },
  };
}
