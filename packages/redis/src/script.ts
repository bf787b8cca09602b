import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LIBRARY } from './lua/library.ts';

/** One Lua script: the shared library plus an operation body, run by SHA (one round trip). */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(
    readonly name: string,
    body: string,
  ) {
    this.source = `${LIBRARY}\n${body}`;
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  /**
   * EVALSHA, falling back to EVAL when the server does not know the script (first use, or a restarted
   * server whose script cache is empty). Either way the script runs once, atomically.
   */
  async run(client: Redis, args: readonly string[]): Promise<string> {
    try {
      return (await client.evalsha(this.sha, 0, ...args)) as string;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await client.eval(this.source, 0, ...args)) as string;
    }
  }
}
