import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BudgetAuthority } from '../../authority.ts';
import { ManualClock } from '../../clock.ts';
import { createCycles } from '../../cycles.ts';
import type { CyclesEvent } from '../../events.ts';
import { createMemoryLedger } from '../../ledger/memory-ledger.ts';
import { AuthorityUnavailableError } from '../../protocol/errors.ts';
import { flakyAuthority } from '../__fixtures__/flaky-authority.ts';
import type { OutboxEntry } from './entry.ts';
import { createFileJournal, journalDirectory } from './file-journal.ts';
import { LEASE_MS } from './intent-log.ts';

const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

// The outbox against a real memory ledger behind an authority that fails on purpose (an outage).

const SCOPE = 'tenant:acme';
const UNIT = 'USD_MICROCENTS';
const IDENTITY = 'test outage';

async function setup(faults: Parameters<typeof flakyAuthority>[1] = {}, root?: string) {
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 100_000 }],
  });
  return withLedger(ledger, clock, faults, root ?? (await mkdtemp(join(tmpdir(), 'cycles-outbox-'))));
}

function withLedger(
  ledger: ReturnType<typeof createMemoryLedger>,
  clock: ManualClock,
  faults: Parameters<typeof flakyAuthority>[1],
  root: string,
  intents = false,
) {
  const authority = flakyAuthority(ledger, faults);
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority,
    clock,
    subject: { tenant: 'acme' },
    heartbeat: false,
    ttlMs: 60_000,
    gracePeriodMs: 0,
    retry: { attempts: 2, baseDelayMs: 0 },
    outbox: { identity: IDENTITY, directory: root, replayIntervalMs: 10, intents },
    onEvent: (event) => {
      events.push(event);
    },
  });
  const directory = journalDirectory(root, IDENTITY);
  const files = async () =>
    existsSync(directory) ? (await readdir(directory)).filter((name) => name.endsWith('.json')) : [];
  const state = async () => ledger.getLedger(SCOPE, UNIT);
  return { clock, ledger, authority, cycles, events, directory, files, state, root };
}

describe('settlement outbox', () => {
  it('journals a commit that failed through an outage and replays it once the authority is back: charged once', async () => {
    const { cycles, events, files, state } = await setup({ commit: { times: 5, when: 'before' } });
    const hold = await cycles.reserve({ estimate: 3_000 });
    await expect(hold.commit(1_200)).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    expect(await files()).toHaveLength(1);
    expect(events.map((event) => event.type)).toContain('settlement-queued');
    expect((await state())?.spent).toBe(0);
    expect(await cycles.flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await state()).toMatchObject({ spent: 1_200, reserved: 0 });
    expect(await files()).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({
      type: 'settlement-replayed',
      charged: 1_200,
      viaEvent: false,
      fromIntent: false,
    });
    await cycles.close();
  });

  it('does not charge twice when every lost attempt had in fact landed (same idempotency key)', async () => {
    const { cycles, state } = await setup({ commit: { times: 4, when: 'after' } });
    const hold = await cycles.reserve({ estimate: 3_000 });
    await expect(hold.commit(900)).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    expect(await cycles.flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await state()).toMatchObject({ spent: 900, reserved: 0 });
    await cycles.close();
  });

  it('flush replays what was queued while a replay pass was already running', async () => {
    const clock = new ManualClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 100_000 }],
    });
    let down = true;
    let gate: Promise<void> | undefined;
    let entered!: () => void;
    const inPass = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const authority: BudgetAuthority = {
      reserve: (request, context) => ledger.reserve(request, context),
      commit: async (id, request, context) => {
        if (down) throw new AuthorityUnavailableError('down (test)');
        if (gate !== undefined) {
          entered();
          await gate;
        }
        return ledger.commit(id, request, context);
      },
      release: (id, request, context) => ledger.release(id, request, context),
      extend: (id, request, context) => ledger.extend(id, request, context),
      createEvent: (request, context) => ledger.createEvent(request, context),
      decide: (request, context) => ledger.decide(request, context),
      getBalances: (query, context) => ledger.getBalances(query, context),
      getReservation: (id, context) => ledger.getReservation(id, context),
      listReservations: (query, context) => ledger.listReservations(query, context),
    };
    const cycles = createCycles({
      authority,
      clock,
      subject: { tenant: 'acme' },
      heartbeat: false,
      retry: { attempts: 1, baseDelayMs: 0 },
      outbox: {
        identity: IDENTITY,
        directory: await mkdtemp(join(tmpdir(), 'cycles-outbox-')),
        replayIntervalMs: 10,
      },
    });
    const first = await cycles.reserve({ estimate: 500 });
    const second = await cycles.reserve({ estimate: 500 });
    await expect(first.commit(100)).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    down = false;
    await inPass; // the timer's pass holds the first entry, and read the store before the second existed
    down = true;
    await expect(second.commit(200)).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    down = false;
    gate = undefined;
    open();
    expect(await cycles.flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({ spent: 300, reserved: 0 });
    await cycles.close();
  });

  it('posts the charge as an event (same key) when the hold expired during the outage', async () => {
    const { clock, cycles, events, state } = await setup({ commit: { times: 2, when: 'before' } });
    const hold = await cycles.reserve({ estimate: 3_000 });
    await expect(hold.commit(700)).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    clock.advance(120_000);
    expect(await cycles.flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await state()).toMatchObject({ spent: 700, reserved: 0 });
    expect(events.at(-1)).toMatchObject({
      type: 'settlement-replayed',
      viaEvent: true,
      possibleDuplicate: false,
    });
    await cycles.close();
  });

  it('replays a failed release', async () => {
    const { cycles, state, files } = await setup({ release: { times: 2, when: 'before' } });
    const hold = await cycles.reserve({ estimate: 3_000 });
    await expect(hold.release('not sent')).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    expect((await state())?.reserved).toBe(3_000);
    expect(await cycles.flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await state()).toMatchObject({ spent: 0, reserved: 0 });
    expect(await files()).toHaveLength(0);
    await cycles.close();
  });

  it('drops an entry the authority definitively refuses, with an event, and keeps nothing', async () => {
    const { cycles, events, directory, files } = await setup();
    const entry: OutboxEntry = {
      version: 1,
      key: 'orphan-of-a-closed-tenant',
      state: 'queued',
      operation: 'commit',
      reservationId: 'rsv_unknown',
      idempotencyKey: 'orphan-of-a-closed-tenant:commit',
      subject: { tenant: 'nobody' },
      action: { kind: 'custom', name: 'x' },
      unit: UNIT,
      amount: 5,
      reserved: 5,
      firstAttemptAtMs: Date.now(),
    };
    await createFileJournal(directory).put(entry, true);
    expect(await cycles.flushSettlements(5_000)).toEqual({ pending: 0 });
    const dropped = events.find((event) => event.type === 'settlement-dropped');
    expect(dropped).toMatchObject({ reservationId: 'rsv_unknown', amount: 5 });
    expect(await files()).toHaveLength(0);
    await cycles.close();
  });

  it('keeps an entry while the authority stays down, and flush answers it as pending', async () => {
    const { cycles, files } = await setup({ commit: { times: 1_000, when: 'before' } });
    const hold = await cycles.reserve({ estimate: 3_000 });
    await expect(hold.commit(10)).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    expect(await cycles.flushSettlements(300)).toEqual({ pending: 1 });
    expect(await files()).toHaveLength(1);
    await cycles.close();
  });

  it('logs an intent per hold and a done line once it settles, appending once per tick', async () => {
    const clock = new ManualClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 100_000 }],
    });
    const root = await mkdtemp(join(tmpdir(), 'cycles-outbox-'));
    const { cycles, directory } = withLedger(ledger, clock, {}, root, true);
    const holds = await Promise.all([1, 2, 3].map(() => cycles.reserve({ estimate: 3_000 })));
    await cycles.flushSettlements(1_000);
    const logs = await readdir(join(directory, 'intents'));
    expect(logs).toEqual([expect.stringMatching(new RegExp(`^${HOST}-${process.pid}-[0-9a-f-]+-0\\.log$`))]);
    const log = () => readFile(join(directory, 'intents', logs[0] ?? ''), 'utf8');
    expect((await log()).trim().split('\n')).toHaveLength(3);
    expect((await stat(join(directory, 'intents', logs[0] ?? ''))).mode & 0o777).toBe(0o600);
    await Promise.all(holds.map((hold) => hold.commit(10)));
    await cycles.flushSettlements(1_000);
    const lines = (await log())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { done?: string });
    expect(lines.filter((line) => line.done !== undefined)).toHaveLength(3);
    await cycles.close();
  });

  it('adopts the intent log of a dead process: charges each unsettled hold once, skips settled ones, quarantines a torn log', async () => {
    const clock = new ManualClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 100_000 }],
    });
    const root = await mkdtemp(join(tmpdir(), 'cycles-outbox-'));
    const directory = journalDirectory(root, IDENTITY);
    const intent = async (key: string): Promise<OutboxEntry> => {
      const reserved = await ledger.reserve({
        idempotencyKey: key,
        subject: { tenant: 'acme' },
        action: { kind: 'custom', name: 'x' },
        estimate: { unit: UNIT, amount: 1_000 },
      });
      return {
        version: 1,
        key,
        state: 'intent',
        operation: 'commit',
        reservationId: reserved.reservationId ?? '',
        idempotencyKey: `${key}:commit`,
        subject: { tenant: 'acme' },
        action: { kind: 'custom', name: 'x' },
        unit: UNIT,
        amount: 1_000,
        reserved: 1_000,
        firstAttemptAtMs: Date.now(),
        owner: '2147483646:dead',
      };
    };
    const unsettled = await intent('unsettled');
    const settled = await intent('settled');
    await ledger.commit(settled.reservationId, {
      idempotencyKey: 'settled:commit',
      actual: { unit: UNIT, amount: 400 },
    });
    await mkdir(join(directory, 'intents'), { recursive: true });
    const lines = [{ intent: unsettled }, { intent: settled }, { done: 'settled' }].map((line) =>
      JSON.stringify(line),
    );
    await writeFile(
      join(directory, 'intents', `${HOST}-2147483646-dead-0.log`),
      `${lines.join('\n')}\n{"intent":{"ver`,
    );
    const { cycles, events } = withLedger(ledger, clock, {}, root, true);
    expect(await cycles.flushSettlements(2_000)).toEqual({ pending: 0 });
    expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({ spent: 1_400, reserved: 0 });
    expect(events.filter((event) => event.type === 'settlement-replayed')).toHaveLength(1);
    expect(await readdir(join(directory, 'intents'))).toEqual([]);
    expect(await readdir(join(directory, 'quarantine'))).toEqual([
      expect.stringMatching(/2147483646-dead-0\.log$/),
    ]);
    await cycles.close();
  });

  it("adopts another host's log (shared volume) only once its lease lapsed", async () => {
    const clock = new ManualClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 100_000 }],
    });
    const root = await mkdtemp(join(tmpdir(), 'cycles-outbox-'));
    const directory = journalDirectory(root, IDENTITY);
    const reserved = await ledger.reserve({
      idempotencyKey: 'remote',
      subject: { tenant: 'acme' },
      action: { kind: 'custom', name: 'x' },
      estimate: { unit: UNIT, amount: 1_000 },
    });
    const entry: OutboxEntry = {
      version: 1,
      key: 'remote',
      state: 'intent',
      operation: 'commit',
      reservationId: reserved.reservationId ?? '',
      idempotencyKey: 'remote:commit',
      subject: { tenant: 'acme' },
      action: { kind: 'custom', name: 'x' },
      unit: UNIT,
      amount: 1_000,
      reserved: 1_000,
      firstAttemptAtMs: Date.now(),
      // A pid that is alive here: another host's pids say nothing about this one.
      owner: `${process.pid}:other-host`,
    };
    const other = HOST === 'ffffffff' ? 'eeeeeeee' : 'ffffffff';
    const log = join(directory, 'intents', `${other}-${process.pid}-other-host-0.log`);
    await mkdir(join(directory, 'intents'), { recursive: true });
    await writeFile(log, `${JSON.stringify({ intent: entry })}\n`);
    const { cycles } = withLedger(ledger, clock, {}, root, true);
    await cycles.flushSettlements(1_000);
    expect((await ledger.getLedger(SCOPE, UNIT))?.spent).toBe(0);
    const lapsed = new Date(Date.now() - LEASE_MS - 1_000);
    await utimes(log, lapsed, lapsed);
    expect(await cycles.flushSettlements(2_000)).toEqual({ pending: 0 });
    expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({ spent: 1_000, reserved: 0 });
    await cycles.close();
  });

  it("charges the whole hold of a dead process's intent, and leaves a live process's intent alone", async () => {
    const clock = new ManualClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 100_000 }],
    });
    const root = await mkdtemp(join(tmpdir(), 'cycles-outbox-'));
    const directory = journalDirectory(root, IDENTITY);
    const journal = createFileJournal(directory);
    const intent = async (key: string, owner: string) => {
      const reserved = await ledger.reserve({
        idempotencyKey: key,
        subject: { tenant: 'acme' },
        action: { kind: 'custom', name: 'x' },
        estimate: { unit: UNIT, amount: 2_000 },
      });
      await journal.put(
        {
          version: 1,
          key,
          state: 'intent',
          operation: 'commit',
          reservationId: reserved.reservationId ?? '',
          idempotencyKey: `${key}:commit`,
          subject: { tenant: 'acme' },
          action: { kind: 'custom', name: 'x' },
          unit: UNIT,
          amount: 2_000,
          reserved: 2_000,
          firstAttemptAtMs: Date.now(),
          owner,
        },
        false,
      );
    };
    await intent('dead-owner', '2147483646:gone');
    await intent('live-owner', `${process.ppid}:alive`);
    const { cycles, events, files } = withLedger(ledger, clock, {}, root, true);
    expect(await cycles.flushSettlements(2_000)).toEqual({ pending: 0 });
    expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({ spent: 2_000, reserved: 2_000 });
    expect(events.find((event) => event.type === 'settlement-replayed')).toMatchObject({
      fromIntent: true,
      charged: 2_000,
    });
    expect(await files()).toEqual(['live-owner.json']);
    await cycles.close();
  });

  it('is off for the embedded ledger: it dies with its caller', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cycles-outbox-'));
    const cycles = createCycles({
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 10 }],
      outbox: { directory: root },
    });
    expect(await cycles.flushSettlements(100)).toEqual({ pending: 0 });
    const hold = await cycles.reserve({ subject: { tenant: 'acme' }, estimate: 5 });
    await hold.commit(5);
    expect(await readdir(root)).toEqual([]);
    await cycles.close();
  });
});
