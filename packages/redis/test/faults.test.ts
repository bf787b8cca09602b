import { AuthorityUnavailableError } from '@cycles-guard/core';
import type { ReserveRequest } from '@cycles-guard/core/protocol';
import { balanceOf, checkIdentity } from '@cycles-guard/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisLedger, type RedisLedger } from '../src/index.ts';
import { type RedisServer, startRedisServer } from '../src/testing/index.ts';
import { type ReplyDroppingProxy, startReplyDroppingProxy } from './support/reply-dropping-proxy.ts';

// Redis going away must never let spend through: operations fail closed with AuthorityUnavailableError
// within the configured timeout, and everything settles once Redis is back.

const TIMEOUT_MS = 400;
/** Slack over the timeout for a loaded CI machine; a hang would blow far past it. */
const BOUND_MS = TIMEOUT_MS + 1600;
/**
 * Timeout of the ledger that does the test's ordinary work: a busy CI machine can take longer than
 * TIMEOUT_MS to answer a healthy Redis, so only the calls meant to fail use the short-timeout `probe`.
 */
const HEALTHY_TIMEOUT_MS = 10_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { appendfsync?: 'always' | 'everysec' } = {}) {
  const server = await startRedisServer(options);
  cleanups.push(() => server.remove());
  const ledger = open(server.url);
  await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 });
  return { server, ledger, probe: open(server.url, TIMEOUT_MS) };
}

function open(url: string, operationTimeoutMs = HEALTHY_TIMEOUT_MS): RedisLedger {
  const ledger = createRedisLedger({
    url,
    keyPrefix: 'faults:',
    operationTimeoutMs,
    sweepIntervalMs: 0,
  });
  cleanups.push(() => ledger.close());
  return ledger;
}

let sequence = 0;
function reserveBody(amount: number): ReserveRequest {
  sequence += 1;
  return {
    idempotencyKey: `fault-reserve-${sequence}`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'faults' },
    estimate: { unit: 'TOKENS', amount },
    ttlMs: 600_000,
  };
}

/** Awaits a call that must fail closed; returns how long it took. */
async function failsClosed(call: Promise<unknown>): Promise<number> {
  const started = Date.now();
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AuthorityUnavailableError.isInstance(error), String(error)).toBe(true);
  expect((error as AuthorityUnavailableError).message).toMatch(/operationTimeoutMs/);
  return Date.now() - started;
}

async function waitUntilAnswering(ledger: RedisLedger): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await ledger.getLedger('tenant:acme', 'TOKENS');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('Redis stopped mid-run', () => {
  it('fails closed within the timeout, then settles holds taken before the outage', async () => {
    const { server, ledger, probe } = await setup();
    const holds = [];
    for (const amount of [100, 200, 300])
      holds.push((await ledger.reserve(reserveBody(amount))).reservationId!);

    await server.stop();
    expect(await failsClosed(probe.reserve(reserveBody(50)))).toBeLessThan(BOUND_MS);
    expect(
      await failsClosed(
        probe.commit(holds[0]!, { idempotencyKey: 'outage-commit', actual: { unit: 'TOKENS', amount: 80 } }),
      ),
    ).toBeLessThan(BOUND_MS);
    expect(await failsClosed(probe.getBalances({ tenant: 'acme' }))).toBeLessThan(BOUND_MS);

    await server.restart();
    await waitUntilAnswering(ledger);
    expect(await balanceOf(ledger, 'tenant:acme')).toMatchObject({ reserved: 600, remaining: 9400 });
    await ledger.commit(holds[0]!, {
      idempotencyKey: 'outage-commit',
      actual: { unit: 'TOKENS', amount: 80 },
    });
    await ledger.commit(holds[1]!, {
      idempotencyKey: 'after-commit',
      actual: { unit: 'TOKENS', amount: 200 },
    });
    await ledger.release(holds[2]!, { idempotencyKey: 'after-release' });
    expect(await balanceOf(ledger, 'tenant:acme')).toMatchObject({
      reserved: 0,
      spent: 280,
      remaining: 9720,
    });
    await checkIdentity(ledger);
  }, 30_000);

  it('a frozen Redis (accepting but never answering) fails closed by timeout, no hang', async () => {
    const { server, ledger, probe } = await setup();
    server.pause();
    try {
      expect(await failsClosed(probe.reserve(reserveBody(50)))).toBeLessThan(BOUND_MS);
    } finally {
      server.resume();
    }
    await waitUntilAnswering(ledger);
    const response = await ledger.reserve(reserveBody(50));
    expect(response.decision).toBe('ALLOW');
  }, 30_000);

  it('a crash (SIGKILL) and restart keeps every acknowledged write (AOF, appendfsync always)', async () => {
    const { server, ledger } = await setup({ appendfsync: 'always' });
    const hold = (await ledger.reserve(reserveBody(400))).reservationId!;
    await ledger.commit(hold, { idempotencyKey: 'before-crash', actual: { unit: 'TOKENS', amount: 300 } });
    const open = (await ledger.reserve(reserveBody(250))).reservationId!;
    const before = await ledger.listLedgers();

    await server.crash();
    await server.restart();
    await waitUntilAnswering(ledger);

    expect(await ledger.listLedgers()).toEqual(before);
    expect((await ledger.getReservation(open)).status).toBe('ACTIVE');
    // The committed reservation's stored outcome survived too: a replay answers, nothing is charged twice.
    await ledger.commit(hold, { idempotencyKey: 'before-crash', actual: { unit: 'TOKENS', amount: 300 } });
    await ledger.release(open, { idempotencyKey: 'after-crash' });
    expect(await balanceOf(ledger, 'tenant:acme')).toMatchObject({
      spent: 300,
      reserved: 0,
      remaining: 9700,
    });
  }, 30_000);
});

describe('a commit whose reply was lost', () => {
  let proxy: ReplyDroppingProxy;

  it('is retried with the same key and charged once', async () => {
    const server: RedisServer = await startRedisServer();
    cleanups.push(() => server.remove());
    proxy = await startReplyDroppingProxy(server.port);
    cleanups.push(() => proxy.close());
    const ledger = open(proxy.url);
    const probe = open(proxy.url, TIMEOUT_MS);
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 });
    const hold = (await ledger.reserve(reserveBody(500))).reservationId!;
    const commit = { idempotencyKey: 'lost-reply-commit', actual: { unit: 'TOKENS' as const, amount: 420 } };

    await waitUntilAnswering(probe); // connected and scripts loaded: the dropped reply is the commit's
    proxy.dropping = true;
    await failsClosed(probe.commit(hold, commit));
    proxy.dropping = false;
    expect(proxy.dropped).toBeGreaterThan(0);

    // The commit ran on the server (its reply was what got lost): the hold is already settled.
    const direct = open(server.url);
    expect(await balanceOf(direct, 'tenant:acme')).toMatchObject({ spent: 420, reserved: 0 });

    await waitUntilAnswering(ledger);
    const retried = await ledger.commit(hold, commit);
    expect(retried).toMatchObject({ status: 'COMMITTED', charged: { unit: 'TOKENS', amount: 420 } });
    expect(await ledger.commit(hold, commit)).toEqual(retried);
    expect(await balanceOf(ledger, 'tenant:acme')).toMatchObject({
      spent: 420,
      reserved: 0,
      remaining: 9580,
    });
    await checkIdentity(ledger);
  }, 30_000);
});
