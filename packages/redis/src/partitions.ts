import { InternalError } from '@cycles-guard/core';
import {
  type CensusRequest,
  type LedgerConnection,
  type OperationName,
  type Reply,
  throwIfError,
} from './connection.ts';
import { GLOBAL_TAG, partitionPrefix, tenantTag } from './keys.ts';
import { amount, asList } from './ledger-views.ts';

// Which hash tags an operation runs under. On one Redis there is one keyspace (tag `undefined`). On
// Redis Cluster each tenant's keys carry its tag (keys.ts) and the global tag holds what belongs to no
// tenant: the template list, the registry of tags in use (for reads across tenants) and scopes without
// a tenant. Every tag keeps its own copy of the template list, synced before this instance first uses
// the tag and by every addTemplate, so a reserve still matches templates inside one atomic script.
// Template ledgers are counted across tags by the census under the global tag (lua/census.ts): a call
// that would create some asks for their admission first, and is run again once admitted.

/** Rounds of admission one call may need (another caller may create what it wanted meanwhile). */
const MAX_ADMISSION_ROUNDS = 4;
/** Members the census looks at per round. */
const CENSUS_BATCH = 100;

export class Partitions {
  /** Tags this instance has registered and synced the templates of (their copies are current). */
  private readonly synced = new Map<string, Promise<void>>();
  private readonly registryKey: string;
  private readonly templatesKey: string;

  constructor(
    private readonly connection: LedgerConnection,
    keyPrefix: string,
  ) {
    const global = partitionPrefix(keyPrefix, GLOBAL_TAG);
    this.registryKey = `${global}tags`;
    this.templatesKey = `${global}templates`;
  }

  get clustered(): boolean {
    return this.connection.clustered;
  }

  /** The tag of a tenant's keys (`undefined` on one Redis). */
  ofTenant(tenant: string | undefined): string | undefined {
    return this.clustered ? tenantTag(tenant) : undefined;
  }

  /** Runs an operation under a tag, once the tag is registered and its template copy is current. */
  async exec(operation: OperationName, args: string[], now: number | undefined, tag: string | undefined) {
    if (tag !== undefined && tag !== GLOBAL_TAG) await this.sync(tag);
    let admitted: Array<[string, string, string]> = [];
    for (let round = 0; round < MAX_ADMISSION_ROUNDS; round++) {
      const reply = await this.connection.exec(operation, args, now, tag, admitted);
      // An adopted or removed template ledger stops counting at once (a windowless one is never due).
      if (reply.adopted !== undefined && this.clustered) {
        await this.connection.exec('censusResolve', [reply.adopted, 'gone'], now, GLOBAL_TAG);
      }
      if (reply.admit === undefined) return reply;
      const at = await this.admit(reply.admit, now);
      admitted = [
        ...admitted,
        ...reply.admit.rows.map((row): [string, string, string] => [`@${row.m}`, at, '']),
      ];
    }
    throw new InternalError(`Redis ledger operation ${operation} kept asking for template ledger admission`);
  }

  /**
   * Redis Cluster: brings the census up to date (every due member looked at in its tag) and answers
   * how many template ledgers it counts.
   */
  async censusCount(now: number | undefined): Promise<number> {
    for (;;) {
      const reply = await this.connection.exec('censusDue', [String(CENSUS_BATCH)], now, GLOBAL_TAG);
      const due = asList<string>(reply.due);
      if (due.length === 0) return amount(reply.count!);
      await this.look(due, now);
    }
  }

  /** Admits template ledgers (a bound's refusal throws), looking at due members first; answers when. */
  private async admit(request: CensusRequest, now: number | undefined): Promise<string> {
    for (;;) {
      const reply = await this.connection.exec('censusAdmit', [JSON.stringify(request)], now, GLOBAL_TAG);
      throwIfError(reply);
      const due = asList<string>(reply.due);
      if (due.length === 0) return String(reply.at);
      await this.look(due, now);
    }
  }

  /** Asks each due member's tag about its ledger, then tells the census (gone, or when to look again). */
  private async look(due: string[], now: number | undefined): Promise<void> {
    const byTag = new Map<string, string[]>();
    for (const member of due) {
      const tag = tenantTag(member.split('|').slice(3).join('|'));
      byTag.set(tag, [...(byTag.get(tag) ?? []), member]);
    }
    const verdicts = await Promise.all(
      [...byTag].map(async ([tag, members]) =>
        asList<[string, string]>((await this.connection.exec('censusCheck', members, now, tag)).verdicts),
      ),
    );
    await this.connection.exec('censusResolve', verdicts.flat().flat(), now, GLOBAL_TAG);
  }

  /** Runs a read (or the sweep) under every tag in use; one reply per tag. */
  async everywhere(operation: OperationName, args: string[], now: number | undefined): Promise<Reply[]> {
    if (!this.clustered) return [await this.connection.exec(operation, args, now)];
    const tags = await this.connection.command('tags', (client) => client.smembers(this.registryKey));
    return Promise.all([GLOBAL_TAG, ...tags].map((tag) => this.connection.exec(operation, args, now, tag)));
  }

  /**
   * Appends a template: to the global list, then to the copy of every registered tag. A tag registered
   * meanwhile reads the list after registering, and this reads the registry after appending, so one of
   * the two always carries the new template over.
   */
  async addTemplate(json: string, now: number | undefined): Promise<void> {
    if (!this.clustered) {
      await this.connection.exec('addTemplate', [json], now);
      return;
    }
    await this.connection.exec('addTemplate', [json], now, GLOBAL_TAG);
    const tags = await this.connection.command('tags', (client) => client.smembers(this.registryKey));
    const list = await this.templates();
    await Promise.all(tags.map((tag) => this.connection.exec('syncTemplates', list, now, tag)));
  }

  private sync(tag: string): Promise<void> {
    let pending = this.synced.get(tag);
    if (pending === undefined) {
      pending = (async () => {
        await this.connection.command('register', (client) => client.sadd(this.registryKey, tag));
        await this.connection.exec('syncTemplates', await this.templates(), undefined, tag);
      })();
      this.synced.set(tag, pending);
      // A failed sync is tried again by the next call under the tag.
      pending.catch(() => this.synced.delete(tag));
    }
    return pending;
  }

  private templates(): Promise<string[]> {
    return this.connection.command('templates', (client) => client.lrange(this.templatesKey, 0, -1));
  }
}
