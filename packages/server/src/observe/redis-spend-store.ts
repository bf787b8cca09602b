import type { SpendBucket } from '@cycles-guard/core/ledger-kit';
import { scopePath, type Unit } from '@cycles-guard/core/protocol';
import { GLOBAL_TAG, partitionPrefix, type RedisLedger, tenantTag, whenConnected } from '@cycles-guard/redis';
import { bucketList, type SpendBuckets, type SpendRecord, type SpendStore } from './spend-store.ts';

type Client = RedisLedger['client'];

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** Field separator: scopes and model ids may hold any printable character. */
const SEP = '\u0000';

export interface RedisSpendStoreOptions {
  /** Key prefix of the ledger (`cycles:`). */
  prefix: string;
  /** @default 7 days */
  retentionMs?: number;
  /** Charges summed in memory and not yet written, at most (past it, new ones wait for the next write). */
  maxQueued?: number;
  now?: () => number;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Sums waiting for the next write, per hash key and field. */
type Queued = Map<string, { tag: string | undefined; tenant: string; fields: Map<string, number> }>;

/**
 * Spend in the ledger's Redis, shared by every server on it: per tenant and hour, one hash whose fields
 * are the minute, unit, scope and model of the charges (`a…` the amount, `c…` the count), expiring after
 * the retention; a sorted set lists the tenants by their last charge. Charges of one event-loop turn are
 * summed in memory and sent as one pipeline of HINCRBY, after the commits were answered (off their path).
 * On Redis Cluster each tenant's hashes carry its hash tag, as its ledger keys do.
 */
export class RedisSpendStore implements SpendStore {
  readonly #client: Client;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #maxQueued: number;
  readonly #now: () => number;
  readonly #cluster: boolean;
  #queued: Queued = new Map();
  #queuedFields = 0;
  #flushing: Promise<void> | undefined;

  constructor(client: Client, options: RedisSpendStoreOptions) {
    this.#client = client;
    this.#prefix = options.prefix;
    this.#retentionMs = options.retentionMs ?? 7 * 24 * HOUR_MS;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#now = options.now ?? Date.now;
    this.#cluster = (client as { isCluster?: boolean }).isCluster === true;
  }

  record(record: SpendRecord): void {
    if (!(record.amount > 0)) return;
    const tenant = record.subject.tenant ?? '';
    const hourMs = record.timeMs - (record.timeMs % HOUR_MS);
    const tag = this.#cluster ? tenantTag(tenant) : undefined;
    const key = this.#hourKey(tag, tenant, hourMs);
    let entry = this.#queued.get(key);
    if (entry === undefined) {
      entry = { tag, tenant, fields: new Map() };
      this.#queued.set(key, entry);
    }
    const minuteMs = record.timeMs - (record.timeMs % MINUTE_MS);
    const field = [minuteMs, record.unit, scopePath(record.subject), record.model ?? ''].join(SEP);
    const amount = entry.fields.get(`a${field}`);
    if (amount === undefined && this.#queuedFields >= this.#maxQueued) return;
    if (amount === undefined) this.#queuedFields += 2;
    entry.fields.set(`a${field}`, (amount ?? 0) + record.amount);
    entry.fields.set(`c${field}`, (entry.fields.get(`c${field}`) ?? 0) + 1);
    if (this.#flushing === undefined) this.#flushing = nextTurn().then(() => this.#flush());
  }

  async buckets(fromMs: number, toMs: number, tenant?: string): Promise<SpendBuckets> {
    await this.close();
    await whenConnected(this.#client);
    const tenants =
      tenant !== undefined
        ? [tenant]
        : await this.#client.zrangebyscore(this.#tenantsKey(), fromMs - HOUR_MS, '+inf');
    // Hours past the retention or in the future hold nothing: a range of years reads a week at most.
    const nowMs = this.#now();
    const firstMs = Math.max(fromMs, nowMs - this.#retentionMs - HOUR_MS);
    const endMs = Math.min(toMs, nowMs + HOUR_MS);
    const keys: { key: string; tenant: string }[] = [];
    for (const name of tenants) {
      const tag = this.#cluster ? tenantTag(name) : undefined;
      for (let hourMs = firstMs - (firstMs % HOUR_MS); hourMs < endMs; hourMs += HOUR_MS) {
        keys.push({ key: this.#hourKey(tag, name, hourMs), tenant: name });
      }
    }
    // One round trip on one Redis; on a cluster, ioredis sends each key to its node.
    const hashes = this.#cluster
      ? await Promise.all(keys.map(({ key }) => this.#client.hgetall(key)))
      : (
          (await keys.reduce((pipeline, { key }) => pipeline.hgetall(key), this.#client.pipeline()).exec()) ??
          []
        ).map(([error, value]) => {
          if (error) throw error;
          return value as Record<string, string>;
        });
    const buckets: SpendBucket[] = [];
    hashes.forEach((hash, index) => {
      const name = keys[index]?.tenant ?? '';
      for (const [field, value] of Object.entries(hash)) {
        if (!field.startsWith('a')) continue;
        const [minute, unit, scope, model] = field.slice(1).split(SEP);
        buckets.push({
          startMs: Number(minute),
          tenant: name,
          scope: scope ?? '',
          model: model ?? '',
          unit: unit as Unit,
          amount: Number(value),
          count: Number(hash[`c${field.slice(1)}`] ?? 0),
        });
      }
    });
    return bucketList(buckets);
  }

  /** Resolves once every charge recorded so far was sent. */
  async close(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  /** Sends what was queued: one pipeline on one Redis (one per tenant tag on a cluster). */
  async #flush(): Promise<void> {
    const queued = this.#queued;
    this.#queued = new Map();
    this.#queuedFields = 0;
    try {
      await whenConnected(this.#client);
      const nowMs = this.#now();
      const pipelines = new Map<string, ReturnType<Client['pipeline']>>();
      const pipelineOf = (tag: string | undefined) => {
        const name = tag ?? '';
        let pipeline = pipelines.get(name);
        if (pipeline === undefined) {
          pipeline = this.#client.pipeline();
          pipelines.set(name, pipeline);
        }
        return pipeline;
      };
      const tenants = pipelineOf(this.#cluster ? GLOBAL_TAG : undefined);
      for (const [key, { tag, tenant, fields }] of queued) {
        const pipeline = pipelineOf(tag);
        for (const [field, amount] of fields) pipeline.hincrby(key, field, amount);
        const hourMs = Number(key.slice(key.lastIndexOf(':') + 1));
        pipeline.pexpireat(key, hourMs + HOUR_MS + this.#retentionMs);
        tenants.zadd(this.#tenantsKey(), nowMs, tenant);
      }
      tenants.zremrangebyscore(this.#tenantsKey(), '-inf', nowMs - this.#retentionMs);
      await Promise.all([...pipelines.values()].map((pipeline) => pipeline.exec()));
    } catch {
      // Redis unreachable: these charges stand in the ledger; the shared report misses them.
    } finally {
      this.#flushing = undefined;
      if (this.#queued.size > 0) this.#flushing = nextTurn().then(() => this.#flush());
    }
  }

  #hourKey(tag: string | undefined, tenant: string, hourMs: number): string {
    return `${partitionPrefix(this.#prefix, tag)}spend:${tenant}:${hourMs}`;
  }

  #tenantsKey(): string {
    return `${partitionPrefix(this.#prefix, this.#cluster ? GLOBAL_TAG : undefined)}spend:tenants`;
  }
}
