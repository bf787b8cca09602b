import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from './entry.ts';
import { createFileJournal, journalDirectory } from './file-journal.ts';

function entry(key: string, amount = 100): OutboxEntry {
  return {
    version: 1,
    key,
    state: 'queued',
    operation: 'commit',
    reservationId: `rsv_${key}`,
    idempotencyKey: `${key}:commit`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    unit: 'USD_MICROCENTS',
    amount,
    reserved: amount,
    firstAttemptAtMs: 1,
  };
}

const fresh = () => mkdtemp(join(tmpdir(), 'cycles-journal-'));

describe('file journal', () => {
  it('writes 0600 files in a 0700 folder per identity, atomically (no temporary left), and lists them back', async () => {
    const root = await fresh();
    const directory = journalDirectory(root, 'redis 127.0.0.1:6379 cycles:');
    expect(directory.startsWith(join(root, 'redis-'))).toBe(true);
    expect(directory).not.toContain('6379');
    const journal = createFileJournal(directory);
    await journal.put(entry('a'), true);
    await journal.put(entry('b'), false);
    await journal.put(entry('a', 250), true); // replaces
    expect((await stat(join(directory, 'a.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(directory)).mode & 0o777).toBe(0o700);
    expect((await readdir(directory)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const listed = await journal.list();
    expect(listed.map((item) => [item.key, item.amount]).sort()).toEqual([
      ['a', 250],
      ['b', 100],
    ]);
    await journal.remove('a');
    await journal.remove('a'); // absent: no error
    expect((await journal.list()).map((item) => item.key)).toEqual(['b']);
  });

  it('quarantines corrupt entries (moved aside, never deleted) and keeps listing the rest', async () => {
    const directory = join(await fresh(), 'j');
    const journal = createFileJournal(directory);
    await journal.put(entry('good'), true);
    await writeFile(join(directory, 'truncated.json'), '{"version":1,"key":"trunc');
    await writeFile(join(directory, 'wrong.json'), JSON.stringify({ ...entry('wrong'), amount: -5 }));
    await writeFile(join(directory, 'renamed.json'), JSON.stringify(entry('other')));
    expect((await journal.list()).map((item) => item.key)).toEqual(['good']);
    const quarantined = await readdir(join(directory, 'quarantine'));
    expect(quarantined).toHaveLength(3);
    const kept = await Promise.all(
      quarantined.map((name) => readFile(join(directory, 'quarantine', name), 'utf8')),
    );
    expect(kept.some((text) => text === '{"version":1,"key":"trunc')).toBe(true);
    expect((await journal.list()).map((item) => item.key)).toEqual(['good']);
  });

  it('refuses a key that is not a plain file name', async () => {
    const journal = createFileJournal(join(await fresh(), 'j'));
    await expect(journal.put(entry('../escape'), true)).rejects.toThrow(/not a file name/);
  });

  it('keeps exactly the last write of each key under random puts and removes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('k1', 'k2', 'k3'), fc.option(fc.nat(1000), { nil: undefined })), {
          maxLength: 20,
        }),
        async (steps) => {
          const journal = createFileJournal(join(await fresh(), 'j'));
          const model = new Map<string, number>();
          for (const [key, amount] of steps) {
            if (amount === undefined) {
              await journal.remove(key);
              model.delete(key);
            } else {
              await journal.put(entry(key, amount), false);
              model.set(key, amount);
            }
          }
          const listed = new Map((await journal.list()).map((item) => [item.key, item.amount]));
          expect(listed).toEqual(model);
        },
      ),
      { numRuns: 25 },
    );
  });
});
