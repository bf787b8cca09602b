import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LIBRARY } from './lua/library.ts';

/** How operations reach Redis: a loaded function library (Redis ≥ 7) or EVALSHA scripts (any Redis). */
export type ScriptMode = 'function' | 'eval';

interface Operation {
  name: string;
  /** The EVAL form: library, begin(ARGV), body. */
  source: string;
  sha: string;
  /** The function name inside the library. */
  functionName: string;
}

/**
 * The ledger's Lua operations. With Redis functions (default) the shared library is loaded once per
 * server and each call is `FCALL <op>`; otherwise each call is EVALSHA of library + body. Either way an
 * operation is one server-side Lua call: atomic, one round trip.
 */
export class LuaOperations {
  private readonly operations = new Map<string, Operation>();
  private readonly library: string;
  /** One FUNCTION LOAD in flight per client, however many calls found the library missing at once. */
  private readonly loading = new WeakMap<Redis, Promise<unknown>>();

  constructor(bodies: Record<string, string>) {
    const version = createHash('sha1')
      .update(LIBRARY)
      .update(JSON.stringify(bodies))
      .digest('hex')
      .slice(0, 12);
    const registrations: string[] = [];
    for (const [name, body] of Object.entries(bodies)) {
      const source = `${LIBRARY}\nbegin(ARGV)\n${body}`;
      const functionName = `cycles_${version}_${name}`;
      this.operations.set(name, {
        name,
        source,
        sha: createHash('sha1').update(source).digest('hex'),
        functionName,
      });
      registrations.push(
        `redis.register_function('${functionName}', function(keys, args)\nbegin(args)\n${body}\nend)`,
      );
    }
    this.library = `#!lua name=cycles_guard_${version}\n${LIBRARY}\n${registrations.join('\n')}`;
  }

  /** Runs one operation; loads the library (or script) when the server does not know it yet. */
  async run(client: Redis, mode: ScriptMode, name: string, args: readonly string[]): Promise<string> {
    const operation = this.operations.get(name);
    if (operation === undefined) throw new Error(`unknown ledger operation ${name}`);
    if (mode === 'function') {
      try {
        return (await client.call('FCALL', operation.functionName, 0, ...args)) as string;
      } catch (error) {
        if (!(error instanceof Error) || !/Function not found/i.test(error.message)) throw error;
        // First use on this server, or a server whose functions were flushed: (re)load, then call.
        await this.load(client);
        return (await client.call('FCALL', operation.functionName, 0, ...args)) as string;
      }
    }
    try {
      return (await client.evalsha(operation.sha, 0, ...args)) as string;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await client.eval(operation.source, 0, ...args)) as string;
    }
  }

  private async load(client: Redis): Promise<void> {
    let pending = this.loading.get(client);
    if (pending === undefined) {
      pending = client.call('FUNCTION', 'LOAD', 'REPLACE', this.library);
      this.loading.set(client, pending);
      pending.then(
        () => this.loading.delete(client),
        () => this.loading.delete(client),
      );
    }
    await pending;
  }
}
