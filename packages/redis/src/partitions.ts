import type { LedgerConnection, OperationName, Reply } from './connection.ts';
import { GLOBAL_TAG, partitionPrefix, tenantTag } from './keys.ts';

// Which hash tags an operation runs under. On one Redis there is one keyspace (tag `undefined`). On
// Redis Cluster each tenant's keys carry its tag (keys.ts) and the global tag holds what belongs to no
// tenant: the template list, the registry of tags in use (for reads across tenants) and scopes without
// a tenant. Every tag keeps its own copy of the template list, synced before this instance first uses
// the tag and by every addTemplate, so a reserve still matches templates inside one atomic script.

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
    return this.connection.exec(operation, args, now, tag);
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
