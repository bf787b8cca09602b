import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { GROUP } from './lua/group.ts';
import { LIBRARY } from './lua/library.ts';
import { callAndWait, type ReplicaWait } from './replica-wait.ts';

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
  /** The function that runs a group of operations in one call (lua/group.ts). */
  private readonly groupFunction: string;
  /** One FUNCTION LOAD in flight per client, however many calls found the library missing at once. */
  private readonly loading = new WeakMap<Redis | Cluster, Promise<unknown>>();

  constructor(bodies: Record<string, string>) {
    const version = createHash('sha1')
      .update(LIBRARY)
      .update(GROUP)
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
      // Each body is a function in OPS, so a group (below) can run it too.
      registrations.push(
        `OPS['${name}'] = function(args, group)\nbegin(args, group)\n${body}\nend`,
        `redis.register_function('${functionName}', function(keys, args) return OPS['${name}'](args) end)`,
      );
    }
    this.groupFunction = `cycles_${version}_group`;
    registrations.push(
      `redis.register_function('${this.groupFunction}', function(keys, args) return run_group(args) end)`,
    );
    this.library = `#!lua name=cycles_guard_${version}\n${LIBRARY}\n${GROUP}\n${registrations.join('\n')}`;
  }

  /**
   * Runs one operation; loads the library (or script) when the server does not know it yet. On a
   * cluster, `routingKey` (a key of the operation's hash tag, declared as KEYS[1]) sends it to the node
   * serving that slot; the script's other keys share the tag, so Redis accepts them as local.
   */
  async run(
    client: Redis | Cluster,
    mode: ScriptMode,
    name: string,
    args: readonly string[],
    routingKey?: string,
    wait?: ReplicaWait,
  ): Promise<string> {
    const operation = this.operations.get(name);
    if (operation === undefined) throw new Error(`unknown ledger operation ${name}`);
    if (mode === 'function') {
      return (await this.fcall(client, operation.functionName, args, routingKey, wait)) as string;
    }
    const send = async (command: string, script: string) =>
      (await this.send(client, command, script, args, routingKey, wait)) as string;
    try {
      return await send('EVALSHA', operation.sha);
    } catch (error) {
      // NOSCRIPT: this node (a new or restarted one, on a cluster) has not seen it yet.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await send('EVAL', operation.source);
    }
  }

  /**
   * Runs several operations in one FCALL, one after another (lua/group.ts); answers each one's reply
   * in order, '!<message>' for one that hit a runtime error. Function mode only.
   */
  async runGroup(
    client: Redis | Cluster,
    group: ReadonlyArray<{ name: string; args: readonly string[] }>,
    routingKey?: string,
    wait?: ReplicaWait,
  ): Promise<string[]> {
    const args: string[] = [];
    // The header (prefix, clock, hints, settings: the first four arguments) of an operation equal to the
    // one before's is sent once: a negative count says "its header, then this many of its own".
    let header: readonly string[] = [];
    for (const { name, args: own } of group) {
      if (
        header.length > 0 &&
        own[0] === header[0] &&
        own[1] === header[1] &&
        own[2] === header[2] &&
        own[3] === header[3]
      ) {
        args.push(name, String(4 - own.length), ...own.slice(4));
      } else {
        args.push(name, String(own.length), ...own);
        header = own;
      }
    }
    return (await this.fcall(client, this.groupFunction, args, routingKey, wait)) as string[];
  }

  private async fcall(
    client: Redis | Cluster,
    functionName: string,
    args: readonly string[],
    routingKey?: string,
    wait?: ReplicaWait,
  ): Promise<unknown> {
    try {
      return await this.send(client, 'FCALL', functionName, args, routingKey, wait);
    } catch (error) {
      if (!(error instanceof Error) || !/Function not found/i.test(error.message)) throw error;
      // First use on this server, or a server whose functions were flushed: (re)load, then call.
      await this.load(client);
      return await this.send(client, 'FCALL', functionName, args, routingKey, wait);
    }
  }

  private send(
    client: Redis | Cluster,
    command: string,
    script: string,
    args: readonly string[],
    routingKey?: string,
    wait?: ReplicaWait,
  ): Promise<unknown> {
    const full = routingKey === undefined ? [script, 0, ...args] : [script, 1, routingKey, ...args];
    return wait === undefined ? client.call(command, ...full) : callAndWait(client, wait, command, full);
  }

  private async load(client: Redis | Cluster): Promise<void> {
    let pending = this.loading.get(client);
    if (pending === undefined) {
      // A cluster: every master (replicas get it through replication), since any may serve the call.
      const targets = client.isCluster ? (client as Cluster).nodes('master') : [client];
      pending = Promise.all(targets.map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', this.library)));
      this.loading.set(client, pending);
      pending.then(
        () => this.loading.delete(client),
        () => this.loading.delete(client),
      );
    }
    await pending;
  }
}
