import { ReplyError } from 'ioredis';

// Group commit: the runtime operations callers start in the same event-loop turn go to Redis as ONE
// call (lua/group.ts runs them one after another, each with its own checks, writes and reply). With
// many callers in flight this pays the per-call costs on both sides (Redis: dispatch, RESP, the Lua
// call, TIME, MULTI/EXEC; Node: ioredis's per-command work and the socket writes) once per group. The
// queue is flushed on process.nextTick, never on a timer: a lone caller's operation leaves in the same
// turn it was started, as a plain call of its own function. Every operation of the ledger (grouped or
// not) goes through the queue, so those under one routing key still run in the order they were called.

/**
 * Most operations in one call. Unbounded, 50 callers' operations went as one group, so Redis ran it
 * while Node waited, then Node handled 50 replies while Redis waited (lockstep, as auto-pipelining did:
 * README "Performance"); in groups of 8, Node handles one group's replies while Redis runs the next.
 */
const MAX_GROUP = 8;

/** An operation waiting for its turn's flush. */
export interface Queued {
  name: string;
  args: string[];
  /** May share a call with its neighbours (the runtime operations); else it is sent alone. */
  grouped: boolean;
  resolve(reply: string): void;
  reject(error: unknown): void;
}

/** How operations reach Redis: several in one call, or one alone. */
export interface GroupSender {
  group(queued: readonly Queued[], routingKey: string | undefined): Promise<string[]>;
  one(queued: Queued, routingKey: string | undefined): Promise<string>;
}

export class GroupCommit {
  /** Per routing key (Redis Cluster: a key of the call's hash tag; one Redis: none), in call order. */
  private queues = new Map<string | undefined, Queued[]>();
  private scheduled = false;

  constructor(private readonly sender: GroupSender) {}

  /** Queues an operation for this turn's flush; answers its own reply. */
  run(name: string, args: string[], grouped: boolean, routingKey: string | undefined): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let queue = this.queues.get(routingKey);
      if (queue === undefined) {
        queue = [];
        this.queues.set(routingKey, queue);
      }
      queue.push({ name, args, grouped, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  /** Sends every queue in order: runs of grouped operations (at most MAX_GROUP) as one call each. */
  private flush(): void {
    const queues = this.queues;
    this.queues = new Map();
    this.scheduled = false;
    for (const [routingKey, queue] of queues) {
      let run: Queued[] = [];
      for (const entry of queue) {
        if (entry.grouped) {
          run.push(entry);
          if (run.length < MAX_GROUP) continue;
        }
        this.send(run, routingKey);
        run = [];
        if (!entry.grouped) this.send([entry], routingKey);
      }
      this.send(run, routingKey);
    }
  }

  private send(queued: Queued[], routingKey: string | undefined): void {
    if (queued.length === 0) return;
    if (queued.length === 1) {
      const [only] = queued as [Queued];
      this.sender.one(only, routingKey).then(only.resolve, only.reject);
      return;
    }
    this.sender.group(queued, routingKey).then(
      (replies) => {
        queued.forEach((entry, index) => {
          const reply = replies[index];
          if (typeof reply !== 'string') entry.reject(new Error(`no reply for ${entry.name} in its group`));
          // A runtime error inside the operation, as Redis would have answered it alone.
          else if (reply.startsWith('!')) entry.reject(new ReplyError(reply.slice(1)));
          else entry.resolve(reply);
        });
      },
      (error: unknown) => {
        for (const entry of queued) entry.reject(error);
      },
    );
  }
}
