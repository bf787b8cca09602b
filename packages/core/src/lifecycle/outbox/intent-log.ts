import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type OutboxEntry, parseEntry } from './entry.ts';

// The write-ahead intents of one process: an append-only log (`<host>-<pid>-<boot id>-<n>.log`) of `intent`
// and `done` lines, written in batches every BATCH_MS: a guarded call costs a share of one append
// instead of a file of its own (open, write, close, rename, unlink), and a hold that settles within
// the batch window is never written at all. A provider call takes far longer than the window, so the
// intent is on disk before the answer it protects. A later process adopts the log of a process that
// is gone: its intents without a `done` line become journal entries. On this host a process is gone
// when its pid is; a log of another host (a journal on a shared volume) when its lease lapsed: a
// process with open intents touches its log every LEASE_MS / 4.

const FOLDER = 'intents';
/** Past this many bytes the log starts a new file holding only the live intents. */
const ROTATE_BYTES = 4 * 1024 * 1024;
/** How long lines wait to be appended together. */
const BATCH_MS = 10;
/** A log of another host untouched this long belongs to a process that is gone. */
export const LEASE_MS = 120_000;
/** This host, as a short digest (host names may hold dashes, and need not be shown). */
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

export class IntentLog {
  readonly #directory: string;
  readonly #owner: string;
  /** Intents written and not yet done, kept to start a rotated file with. */
  readonly #live = new Map<string, OutboxEntry>();
  /** Lines to append: intents by hold key (so a `done` before the write cancels it), and `done` lines. */
  #buffer = new Map<string, string>();
  #scheduled: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #handle: Promise<FileHandle> | undefined;
  #file = 0;
  #bytes = 0;
  #lease: ReturnType<typeof setInterval> | undefined;

  /** `owner`: `<pid>:<boot id>` of this process. */
  constructor(journalDirectory: string, owner: string) {
    this.#directory = join(journalDirectory, FOLDER);
    this.#owner = `${HOST}-${owner.replace(':', '-')}`;
  }

  add(entry: OutboxEntry): void {
    this.#live.set(entry.key, entry);
    this.#renewLease();
    this.#append(entry.key, JSON.stringify({ intent: entry }));
  }

  done(key: string): void {
    if (!this.#live.delete(key)) return;
    // Settled before its intent was written: there is nothing left to protect.
    if (this.#buffer.delete(key)) return;
    this.#append(`done ${key}`, JSON.stringify({ done: key }));
  }

  /** Resolves once everything added so far is written. */
  async flushed(): Promise<void> {
    this.#write();
    await this.#writing;
  }

  /** Writes what is buffered and closes the file; deletes it when no intent is open any more. */
  async close(): Promise<void> {
    await this.flushed();
    clearInterval(this.#lease);
    this.#lease = undefined;
    const handle = this.#handle;
    this.#handle = undefined;
    await (await handle?.catch(() => undefined))?.close();
    if (handle !== undefined && this.#live.size === 0) {
      await unlink(this.#path()).catch(() => {});
    }
  }

  #path(): string {
    return join(this.#directory, `${this.#owner}-${this.#file}.log`);
  }

  /** While intents are open, keeps the log's mtime fresh (the lease other hosts judge it by). */
  #renewLease(): void {
    if (this.#lease !== undefined) return;
    this.#lease = setInterval(() => {
      if (this.#live.size === 0) {
        clearInterval(this.#lease);
        this.#lease = undefined;
        return;
      }
      const now = new Date();
      utimes(this.#path(), now, now).catch(() => {});
    }, LEASE_MS / 4);
    this.#lease.unref?.();
  }

  #append(id: string, line: string): void {
    this.#buffer.set(id, line);
    if (this.#scheduled !== undefined) return;
    this.#scheduled = setTimeout(() => this.#write(), BATCH_MS);
    this.#scheduled.unref?.(); // `flushSettlements` and `close` write what is left
  }

  #write(): void {
    clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#buffer.size === 0) return;
    const text = `${[...this.#buffer.values()].join('\n')}\n`;
    this.#buffer = new Map();
    this.#writing = this.#writing.then(() => this.#appendText(text)).catch(() => {});
  }

  async #appendText(text: string): Promise<void> {
    if (this.#bytes > ROTATE_BYTES) await this.#rotate();
    const handle = await this.#open();
    await handle.write(text);
    this.#bytes += text.length;
  }

  #open(): Promise<FileHandle> {
    this.#handle ??= mkdir(this.#directory, { recursive: true, mode: 0o700 }).then(() =>
      open(this.#path(), 'a', 0o600),
    );
    this.#handle.catch(() => {
      this.#handle = undefined;
    });
    return this.#handle;
  }

  /** A new file starting with the live intents, then the old one goes (adoption reads both if not). */
  async #rotate(): Promise<void> {
    const old = this.#handle;
    const oldPath = this.#path();
    this.#file++;
    this.#handle = undefined;
    this.#bytes = 0;
    const lines = [...this.#live.values()].map((entry) => JSON.stringify({ intent: entry }));
    if (lines.length > 0) {
      const handle = await this.#open();
      const text = `${lines.join('\n')}\n`;
      await handle.write(text);
      this.#bytes = text.length;
    }
    await (await old)?.close();
    await unlink(oldPath).catch(() => {});
  }
}

/**
 * Turns the logs of processes that are gone into journal entries (`put`, owner cleared), then deletes
 * the logs. On this host `gone(owner)` says whether the `<pid>:<boot id>` owner is dead; another host's
 * log is gone once its lease lapsed. Lines that do not parse (a torn last write) are skipped; the log
 * is copied to `quarantine/` first so nothing is lost unseen.
 */
export async function adoptIntents(
  journalDirectory: string,
  gone: (owner: string) => boolean,
  put: (entry: OutboxEntry) => Promise<void>,
): Promise<void> {
  const directory = join(journalDirectory, FOLDER);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return;
  }
  const byOwner = new Map<string, { host: string; files: string[] }>();
  for (const name of names) {
    const match = /^([0-9a-f]{8})-(\d+)-([A-Za-z0-9-]+)-\d+\.log$/.exec(name);
    if (match === null) continue;
    const owner = `${match[2]}:${match[3]}`;
    const group = byOwner.get(`${match[1]}/${owner}`) ?? { host: match[1] ?? '', files: [] };
    group.files.push(name);
    byOwner.set(`${match[1]}/${owner}`, group);
  }
  for (const [id, { host, files }] of byOwner) {
    const owner = id.slice(id.indexOf('/') + 1);
    const dead = host === HOST ? gone(owner) : await leaseLapsed(directory, files);
    if (!dead) continue;
    const live = new Map<string, OutboxEntry>();
    const done = new Set<string>();
    for (const file of files) {
      let torn = false;
      const text = await readFile(join(directory, file), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        const parsed = parseLine(line);
        if (parsed === undefined) torn = true;
        else if (typeof parsed === 'string') done.add(parsed);
        else live.set(parsed.key, parsed);
      }
      if (torn) await quarantineCopy(journalDirectory, directory, file);
    }
    for (const [key, entry] of live) {
      // Adopted: its owner is gone, whatever pid the owner had (it may be a live pid here).
      if (!done.has(key)) await put({ ...entry, owner: '' });
    }
    for (const file of files) await unlink(join(directory, file)).catch(() => {});
  }
}

async function leaseLapsed(directory: string, files: string[]): Promise<boolean> {
  const now = Date.now();
  for (const file of files) {
    const modified = await stat(join(directory, file)).then(
      (stats) => stats.mtimeMs,
      () => 0,
    );
    if (now - modified < LEASE_MS) return false;
  }
  return true;
}

/** An intent entry, a done key, or undefined for a line that does not parse. */
function parseLine(line: string): OutboxEntry | string | undefined {
  try {
    const value = JSON.parse(line) as { intent?: unknown; done?: unknown };
    if (typeof value.done === 'string') return value.done;
    const entry = parseEntry(JSON.stringify(value.intent));
    return entry?.state === 'intent' ? entry : undefined;
  } catch {
    return undefined;
  }
}

async function quarantineCopy(journalDirectory: string, directory: string, file: string): Promise<void> {
  const target = join(journalDirectory, 'quarantine');
  await mkdir(target, { recursive: true, mode: 0o700 });
  const text = await readFile(join(directory, file));
  const temporary = join(target, `.${file}.tmp`);
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  await rename(temporary, join(target, `${Date.now()}-${file}`));
}
