import { CyclesError, InternalError } from '@cycles-guard/core';
import { windowBounds } from '@cycles-guard/core/ledger-kit';
import { type Cluster, type ClusterNode, Redis } from 'ioredis';
import { describeTarget, nodeName, openCluster } from './cluster-client.ts';
import { type ErrorRecord, toCyclesError, unavailable } from './errors.ts';
import { GroupCommit } from './group-commit.ts';
import { partitionPrefix } from './keys.ts';
import { amount, asList, type RowReply } from './ledger-views.ts';
import {
  ADD_TEMPLATE,
  CREATE_LEDGER,
  FUND,
  REMOVE_LEDGER,
  SET_STATUS,
  SET_TENANT,
  SYNC_TEMPLATES,
  UPDATE_LEDGER,
} from './lua/admin.ts';
import { CENSUS_ADMIT, CENSUS_CHECK, CENSUS_DUE, CENSUS_RESOLVE } from './lua/census.ts';
import {
  BALANCES,
  GET_LEDGER,
  GET_RESERVATION,
  LIST_LEDGERS,
  LIST_RESERVATIONS,
  SWEEP,
  TEMPLATE_COUNTS,
} from './lua/reads.ts';
import { COMMIT, DECIDE, EVENT, EXTEND, RELEASE, RESERVE } from './lua/runtime.ts';
import { CLOSE_TENANT } from './lua/tenant-close.ts';
import type { ReplicaWait } from './replica-wait.ts';
import type { ReservationView } from './reservation-views.ts';
import { LuaOperations, type ScriptMode } from './script.ts';

// The ledger's link to Redis: runs one Lua operation per call within the operation timeout, answers
// the scripts' window-bound requests, and turns transport failures into AuthorityUnavailableError.

/** What a call asks the census (Redis Cluster) to admit: see lua/census.ts. */
export interface CensusRequest {
  tenant: string;
  unbounded: string;
  rows: Array<{ m: string; scope: string; unit: string; pattern: string; index: string; max: string }>;
}

/** A script's reply (numbers as decimal strings). */
export interface Reply {
  now: string;
  e?: string;
  need?: string[];
  replay?: string;
  /** A fresh outcome: a JSON value (runtime operations) or its text (funding). */
  outcome?: unknown;
  ttl?: string;
  rows?: RowReply[];
  rsv?: ReservationView;
  list?: ReservationView[];
  count?: string;
  pruned?: string;
  /** Redis Cluster: template ledgers the census must admit before the call can create them. */
  admit?: CensusRequest;
  /** Redis Cluster: a template ledger that stopped counting (adopted or removed). */
  adopted?: string;
  /** With ledger events on: the reservations this call's lazy expiry or sweep expired. */
  expired?: ExpiredHold[];
  [field: string]: unknown;
}

/** An operation's outcome: its stored text on a replay, else the fresh one (a value, or its text). */
export function outcomeOf<T>(reply: Reply): T {
  if (reply.replay !== undefined) return JSON.parse(reply.replay) as T;
  return (typeof reply.outcome === 'string' ? JSON.parse(reply.outcome) : reply.outcome) as T;
}

const OPERATIONS = new LuaOperations({
  reserve: RESERVE,
  commit: COMMIT,
  release: RELEASE,
  extend: EXTEND,
  decide: DECIDE,
  event: EVENT,
  balances: BALANCES,
  listLedgers: LIST_LEDGERS,
  getLedger: GET_LEDGER,
  getReservation: GET_RESERVATION,
  listReservations: LIST_RESERVATIONS,
  sweep: SWEEP,
  createLedger: CREATE_LEDGER,
  fund: FUND,
  setStatus: SET_STATUS,
  updateLedger: UPDATE_LEDGER,
  removeLedger: REMOVE_LEDGER,
  addTemplate: ADD_TEMPLATE,
  setTenant: SET_TENANT,
  closeTenant: CLOSE_TENANT,
  templateCounts: TEMPLATE_COUNTS,
  syncTemplates: SYNC_TEMPLATES,
  censusAdmit: CENSUS_ADMIT,
  censusDue: CENSUS_DUE,
  censusCheck: CENSUS_CHECK,
  censusResolve: CENSUS_RESOLVE,
});

export type OperationName =
  | 'reserve'
  | 'commit'
  | 'release'
  | 'extend'
  | 'decide'
  | 'event'
  | 'balances'
  | 'listLedgers'
  | 'getLedger'
  | 'getReservation'
  | 'listReservations'
  | 'sweep'
  | 'createLedger'
  | 'fund'
  | 'setStatus'
  | 'updateLedger'
  | 'removeLedger'
  | 'addTemplate'
  | 'setTenant'
  | 'closeTenant'
  | 'templateCounts'
  | 'syncTemplates'
  | 'censusAdmit'
  | 'censusDue'
  | 'censusCheck'
  | 'censusResolve';

const MAX_WINDOW_ROUNDS = 4;

/** The runtime operations sent in groups (group-commit.ts) in function mode: every one a write. */
const GROUPED = new Set<OperationName>(['reserve', 'commit', 'release', 'extend', 'decide', 'event']);

/** Operations that only read (their lazy-expiry writes need no replica before the answer). */
const READS = new Set<OperationName>([
  'balances',
  'listLedgers',
  'getLedger',
  'getReservation',
  'listReservations',
  'templateCounts',
  'sweep',
  'censusDue',
]);

/** How to reach Redis and what every call sends besides its own arguments. */
export interface ConnectionOptions {
  url?: string;
  /** Redis Cluster seed nodes: every key then carries its tenant's hash tag (keys.ts). */
  cluster?: ClusterNode[];
  client?: Redis | Cluster;
  prefix: string;
  timeoutMs: number;
  scriptMode: ScriptMode;
  /** Replicas that must hold each write before it is confirmed (0: the master's answer is enough). */
  waitForReplicas?: number;
  /**
   * Reservation retention ms, most reservations per tenant, idempotency retention ms, reservation replay
   * window ms, most template ledgers, most per tenant, template ledger retention ms.
   */
  header: [string, string, string, string, string, string, string];
  /**
   * Ledger events on: every reservation a script expires (lazily, or in the sweep) is handed here once,
   * with the script's now. Unset: the scripts keep nothing about expiries.
   */
  onExpired?: (expired: ExpiredHold[], nowMs: number) => void;
}

/** A reservation a script expired, as `reservation.expired` needs it (numbers as decimal strings). */
export interface ExpiredHold {
  id: string;
  tenant: string;
  unit: string;
  estimate: string;
  createdAtMs: string;
  expiresAtMs: string;
  extensions: string;
  /** The reserve's record JSON (subject, action, scopePath...). */
  record: string;
  /** Every scope the hold was on, after its release. */
  bal: RowReply[];
}

/** Who got an error record back and what it means for the message (see errors.ts). */
export interface FailureContext {
  overage?: boolean;
  idempotencyKey?: string;
}

/** Throws the typed error of an error reply. */
export function throwIfError(reply: Reply, context: FailureContext = {}): void {
  if (reply.e !== undefined) {
    throw toCyclesError(reply as ErrorRecord, { nowMs: amount(reply.now), ...context });
  }
}

function flag(value: boolean): string {
  return value ? '1' : '0';
}

export class LedgerConnection {
  readonly client: Redis | Cluster;
  /** On Redis Cluster: each call runs under one hash tag's prefix and names a key of it for routing. */
  readonly clustered: boolean;
  private readonly ownsClient: boolean;
  private readonly target: string;
  private readonly timeoutMs: number;
  private readonly prefix: string;
  /**
   * Reservation retention ms, most reservations per tenant, idempotency retention ms, reservation replay
   * window ms, most template ledgers, most per tenant, template ledger retention ms.
   */
  private readonly header: [string, string, string, string, string, string, string];
  private mode: ScriptMode;
  private readonly wait: ReplicaWait | undefined;
  /** The header's settings and the mode, as the one argument every script reads (lua/prelude.ts). */
  private readonly settings: string;
  private readonly onExpired: ((expired: ExpiredHold[], nowMs: number) => void) | undefined;
  private closed = false;
  private whenReady: Promise<void> | undefined;
  private readonly groups: GroupCommit;

  constructor(options: ConnectionOptions) {
    this.timeoutMs = options.timeoutMs;
    this.prefix = options.prefix;
    this.header = options.header;
    this.mode = options.scriptMode;
    const replicas = options.waitForReplicas ?? 0;
    // Half the operation's time for the replicas, so a lagging one is reported as such, not as a timeout.
    this.wait =
      replicas > 0 ? { replicas, timeoutMs: Math.max(1, Math.floor(options.timeoutMs / 2)) } : undefined;
    if (options.client !== undefined) {
      this.client = options.client;
      this.ownsClient = false;
      this.target = describeTarget(options.client);
    } else if (options.cluster !== undefined) {
      this.client = openCluster(options.cluster, this.timeoutMs);
      this.ownsClient = true;
      this.target = `cluster ${options.cluster.map(nodeName).join(',')}`;
    } else {
      const url = options.url ?? 'redis://127.0.0.1:6379';
      this.client = new Redis(url, {
        // Never queue a command while disconnected nor re-send one after a reconnect: a command that
        // timed out for its caller must not run minutes later (a late reserve would pin a hold until
        // it expires). Commands wait for a ready connection within the operation timeout instead.
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        // No auto-pipelining: it batches every caller's command into one write per tick, so Redis runs
        // the whole batch, then sits idle while Node handles all the replies and sends the next batch
        // (lockstep). Sent as they come, the two overlap: 50 callers, reserve+commit, 3,050 → 5,450
        // pairs/s on 2 cores (README "Performance").
        enableAutoPipelining: false,
        retryStrategy: (attempt) => Math.min(50 * attempt, 500),
        connectTimeout: this.timeoutMs,
      });
      this.ownsClient = true;
      this.target = url;
    }
    this.clustered = this.client.isCluster;
    this.onExpired = options.onExpired;
    // The database too: one Lua state serves all of a server's databases (lua/prelude.ts NEXT_DUE).
    const database = this.clustered ? 0 : ((this.client as Redis).options?.db ?? 0);
    this.settings = [
      ...this.header,
      flag(this.clustered),
      flag(this.onExpired !== undefined),
      String(database),
    ].join(',');
    this.groups = new GroupCommit({
      // Every grouped operation writes: the group waits for replicas when the ledger does.
      group: (queued, routingKey) => OPERATIONS.runGroup(this.client, queued, routingKey, this.wait),
      one: ({ name, args }, routingKey) =>
        OPERATIONS.run(this.client, 'function', name, args, routingKey, this.waitFor(name)),
    });
    // Connection errors surface through the operations (fail closed); keep them off the default logger.
    this.client.on('error', () => {});
  }

  /**
   * Runs an operation, answering its window-bound requests: a script that must roll a calendar window
   * asks for the period containing its `now` (IANA zones need Intl) and is run again with it, writing
   * nothing the first time. Happens once per ledger per period.
   */
  async exec(
    operation: OperationName,
    args: string[],
    now?: number,
    tag?: string,
    admitted: Array<[string, string, string]> = [],
  ): Promise<Reply> {
    const prefix = partitionPrefix(this.prefix, this.clustered ? tag : undefined);
    const routingKey = this.clustered ? `${prefix}seq` : undefined;
    const wait = this.waitFor(operation);
    const hints = new Map<string, [string, string, string]>();
    for (let round = 0; round < MAX_WINDOW_ROUNDS; round++) {
      const all = [...admitted, ...hints.values()];
      const hintText = all.length === 0 ? '' : JSON.stringify(all);
      const nowText = now === undefined ? '' : String(now);
      const full = [prefix, nowText, hintText, this.settings, ...args];
      const reply = await this.call(operation, () =>
        // The mode is read at send time: a server without functions switches it to eval.
        this.mode === 'function'
          ? this.groups.run(operation, full, GROUPED.has(operation), routingKey)
          : OPERATIONS.run(this.client, this.mode, operation, full, routingKey, wait),
      );
      // Expiries are written even when the script then asks for window bounds: report each round's.
      if (reply.expired !== undefined)
        this.onExpired?.(asList<ExpiredHold>(reply.expired), amount(reply.now));
      // The census's admission is the caller's to get (it runs under another tag).
      if (reply.need === undefined || reply.admit !== undefined) return reply;
      const at = amount(reply.now);
      for (const window of asList<string>(reply.need)) {
        const bounds = windowBounds(JSON.parse(window), at);
        hints.set(window, [window, String(bounds.startMs), String(bounds.endMs)]);
      }
    }
    throw new InternalError(`Redis ledger operation ${operation} kept asking for window bounds`);
  }

  /** Replicas a write must reach before it is confirmed (none for reads). */
  private waitFor(operation: string): ReplicaWait | undefined {
    return READS.has(operation as OperationName) ? undefined : this.wait;
  }

  /** Closes the client if this connection created it. */
  async close(): Promise<void> {
    if (this.ownsClient && !this.closed) {
      this.closed = true;
      await this.client.quit().catch(() => this.client.disconnect());
    }
  }

  /**
   * Runs plain commands (the cluster's tag registry, the template list) within the operation timeout;
   * transport failures become AuthorityUnavailableError.
   */
  async command<T>(name: string, send: (client: Redis | Cluster) => Promise<T>): Promise<T> {
    return this.withinTimeout(name, async (deadline) => {
      if (this.ownsClient && this.client.status !== 'ready') await this.ready();
      if (deadline.passed) throw new Error('abandoned after the operation timeout');
      return send(this.client);
    });
  }

  private async runOperation(send: () => Promise<string>, deadline: { passed: boolean }): Promise<string> {
    if (this.ownsClient && this.client.status !== 'ready') await this.ready();
    // The caller already got AuthorityUnavailableError: sending now would act behind its back.
    if (deadline.passed) throw new Error('abandoned after the operation timeout');
    try {
      return await send();
    } catch (error) {
      // Redis < 7 has no functions: use EVALSHA from now on.
      if (this.mode === 'function' && error instanceof Error && /unknown command/i.test(error.message)) {
        this.mode = 'eval';
        return send();
      }
      throw error;
    }
  }

  /** Resolves once the owned client is connected (the caller's timeout bounds the wait). */
  private ready(): Promise<void> {
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
    if (this.client.status === 'end') return Promise.reject(new Error('the ledger was closed'));
    // One listener however many operations wait through an outage.
    this.whenReady ??= new Promise<void>((resolve) => {
      this.client.once('ready', () => {
        this.whenReady = undefined;
        resolve();
      });
    });
    return this.whenReady;
  }

  /** Runs a script within the operation timeout; transport failures become AuthorityUnavailableError. */
  private async call(operation: OperationName, send: () => Promise<string>): Promise<Reply> {
    const raw = await this.withinTimeout(operation, (deadline) => this.runOperation(send, deadline));
    return JSON.parse(raw) as Reply;
  }

  private async withinTimeout<T>(
    operation: string,
    work: (deadline: { passed: boolean }) => Promise<T>,
  ): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = { passed: false };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        deadline.passed = true;
        reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([work(deadline), timeout]);
    } catch (error) {
      if (CyclesError.isInstance(error)) throw error;
      if (
        error instanceof Error &&
        error.name === 'ReplyError' &&
        !/^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|READONLY)/.test(error.message)
      ) {
        throw new InternalError(`Redis ledger operation ${operation} failed: ${error.message}`, {
          cause: error,
        });
      }
      // A cluster node that stopped answering may have been failed over: learn the slots' new owners
      // now rather than at the next periodic refresh (ioredis runs one refresh at a time).
      if (this.clustered) (this.client as Cluster).refreshSlotsCache();
      throw unavailable(error, this.target, this.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }
}
