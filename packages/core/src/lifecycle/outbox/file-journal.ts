import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isEntryKey, type OutboxEntry, parseEntry } from './entry.ts';
import type { SettlementStore } from './store.ts';

// The default outbox store: one JSON file per entry in a directory of its own per authority identity.
// Written to a temporary file then renamed over the entry (atomic on POSIX), files 0600, folders 0700.

const QUARANTINE = 'quarantine';
// Module-level counter, safe: it only makes temporary file names unique within this process.
let sequence = 0;

/** The journal's directory for an authority identity (a digest: the identity may name a host or key). */
export function journalDirectory(root: string, identity: string): string {
  const kind = /^[a-z]+/.exec(identity)?.[0] ?? 'authority';
  return join(root, `${kind}-${createHash('sha256').update(identity).digest('hex').slice(0, 24)}`);
}

/** A file journal under `directory` (created on first write, 0700). */
export function createFileJournal(directory: string): SettlementStore {
  let made: Promise<unknown> | undefined;
  const ensure = () => {
    made ??= mkdir(join(directory, QUARANTINE), { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
  const path = (key: string) => join(directory, `${key}.json`);
  return {
    name: directory,
    async put(entry, durable) {
      if (!isEntryKey(entry.key))
        throw new Error(`outbox key ${JSON.stringify(entry.key)} is not a file name`);
      await ensure();
      const temporary = join(directory, `.${entry.key}.${process.pid}.${sequence++}.tmp`);
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(entry));
        if (durable) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path(entry.key));
    },
    async remove(key) {
      await unlink(path(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    },
    async list() {
      let names: string[];
      try {
        names = await readdir(directory);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
      const entries: OutboxEntry[] = [];
      for (const name of names) {
        if (!name.endsWith('.json')) continue; // temporaries (`.x.tmp`) and the quarantine folder
        let text: string;
        try {
          text = await readFile(join(directory, name), 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // settled meanwhile
          throw error;
        }
        const entry = parseEntry(text);
        if (entry !== undefined && `${entry.key}.json` === name) entries.push(entry);
        else await quarantine(directory, name);
      }
      return entries;
    },
  };
}

/** Moves a corrupt entry aside (kept for inspection, never replayed nor deleted). */
async function quarantine(directory: string, name: string): Promise<void> {
  await mkdir(join(directory, QUARANTINE), { recursive: true, mode: 0o700 });
  await rename(join(directory, name), join(directory, QUARANTINE, `${Date.now()}-${name}`)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    },
  );
}
