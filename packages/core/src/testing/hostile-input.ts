import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { CommitRequest, EventRequest, ReserveRequest } from '../protocol/types.ts';
import {
  ACTION,
  type ConformanceOptions,
  expectCyclesError,
  freshKey,
  reserveRequest,
  seedBudget,
  snapshotLedgers,
  subjectOf,
  UNIT,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const TENANT = 'tenant:acme';
const CHILD = 'tenant:acme/app:chat';

/** Metadata no ledger may accept: each must be refused before anything changes. */
function badMetadata(): Record<string, unknown> {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 5000; i++) deep = { d: deep };
  return {
    cyclic,
    deep,
    huge: { text: 'x'.repeat(1_000_000) },
    loneSurrogate: { text: 'a\ud800b' },
    loneSurrogateKey: { 'k\udc00': 1 },
    notFinite: { value: Number.NaN },
    infinite: { value: Number.POSITIVE_INFINITY },
    bigint: { value: 2n ** 63n },
    date: { when: new Date(0) },
    map: { entries: new Map([[1, 2]]) },
    fn: { call: () => 1 },
  };
}

/** Amounts no ledger may accept. */
const BAD_AMOUNTS: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5, 2 ** 63, '100', null, 10n];

/** Idempotency keys no ledger may accept (lone surrogates would merge in any UTF-8 store). */
const BAD_KEYS: unknown[] = ['\ud800x', 'x\udbff', '', 'k'.repeat(257), 42, null];

/**
 * Validate, then mutate: every malformed input is refused with INVALID_REQUEST and leaves balances,
 * reservations and idempotency records exactly as they were; the valid retry afterwards charges once.
 */
export function registerHostileInputTests(options: ConformanceOptions): void {
  describe('hostile input: refused before anything changes', () => {
    const harness = harnessFactory(options);

    async function seeded(): Promise<Ledger> {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100_000);
      await seedBudget(ledger, CHILD, 50_000);
      return ledger;
    }

    it('a commit with bad metadata, metrics or amount changes nothing; the valid retry charges once', async () => {
      const ledger = await seeded();
      const hold = await ledger.reserve(reserveRequest(CHILD, 10_000));
      const id = hold.reservationId!;
      const before = await snapshotLedgers(ledger);
      const key = freshKey('commit');
      const base: CommitRequest = { idempotencyKey: key, actual: { unit: UNIT, amount: 6000 } };
      const bad: CommitRequest[] = [
        ...Object.values(badMetadata()).map((metadata) => ({ ...base, metadata }) as CommitRequest),
        ...Object.values(badMetadata()).map(
          (custom) => ({ ...base, metrics: { tokensInput: 1, custom } }) as CommitRequest,
        ),
        ...Object.values(badMetadata()).map(
          (other) => ({ ...base, metrics: { tokensInput: 1, other } }) as unknown as CommitRequest,
        ),
        ...BAD_AMOUNTS.map((amount) => ({ ...base, actual: { unit: UNIT, amount } }) as CommitRequest),
        ...BAD_KEYS.map((idempotencyKey) => ({ ...base, idempotencyKey }) as CommitRequest),
      ];
      for (const request of bad) {
        // Twice: a refused commit must not have half-applied (a retry would then charge again).
        await expectCyclesError(ledger.commit(id, request), 'INVALID_REQUEST');
        await expectCyclesError(ledger.commit(id, request), 'INVALID_REQUEST');
      }
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.getReservation(id)).status).toBe('ACTIVE');
      const committed = await ledger.commit(id, base);
      expect(committed.charged.amount).toBe(6000);
      expect(await ledger.commit(id, base)).toEqual(committed);
      const child = (await snapshotLedgers(ledger))[`${CHILD}|${UNIT}`]!;
      expect(child).toMatchObject({ spent: 6000, reserved: 0, remaining: 44_000 });
    });

    it('a reserve, decide or event with bad input holds and charges nothing', async () => {
      const ledger = await seeded();
      const before = await snapshotLedgers(ledger);
      const reserve = reserveRequest(CHILD, 100);
      const event: EventRequest = {
        idempotencyKey: freshKey('event'),
        subject: subjectOf(CHILD),
        action: ACTION,
        actual: { unit: UNIT, amount: 100 },
      };
      const cyclicSubject: Record<string, unknown> = { tenant: 'acme' };
      cyclicSubject.extra = cyclicSubject;
      const variants: Record<string, unknown>[] = [
        ...Object.values(badMetadata()).map((metadata) => ({ metadata })),
        ...BAD_KEYS.map((idempotencyKey) => ({ idempotencyKey })),
        { subject: cyclicSubject },
        { subject: { tenant: 'acme', dimensions: { ['k'.repeat(200)]: 'v' } } },
        { subject: { tenant: 'acme', dimensions: { region: 'eu\ud800' } } },
        { action: { ...ACTION, extra: { deep: 1 } } },
        { action: { ...ACTION, name: 'n\udfff' } },
      ];
      for (const variant of variants) {
        await expectCyclesError(
          ledger.reserve({ ...reserve, ...variant } as ReserveRequest),
          'INVALID_REQUEST',
        );
        await expectCyclesError(
          ledger.decide({ ...reserve, ...variant } as ReserveRequest),
          'INVALID_REQUEST',
        );
        await expectCyclesError(
          ledger.createEvent({ ...event, ...variant } as EventRequest),
          'INVALID_REQUEST',
        );
      }
      for (const amount of BAD_AMOUNTS) {
        const estimate = { unit: UNIT, amount } as ReserveRequest['estimate'];
        await expectCyclesError(ledger.reserve({ ...reserve, estimate }), 'INVALID_REQUEST');
        await expectCyclesError(
          ledger.createEvent({ ...event, actual: estimate as EventRequest['actual'] }),
          'INVALID_REQUEST',
        );
      }
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.listReservations({ tenant: 'acme' })).reservations).toEqual([]);
    });

    it('keys that differ only in lone surrogates never share a reservation', async () => {
      const ledger = await seeded();
      for (const idempotencyKey of ['\ud800x', '\udbffx', 'x\udc00']) {
        await expectCyclesError(
          ledger.reserve(reserveRequest(CHILD, 100, { idempotencyKey })),
          'INVALID_REQUEST',
        );
      }
      expect((await ledger.listReservations({ tenant: 'acme' })).reservations).toEqual([]);
    });

    it('property: any metadata is either refused with nothing changed or committed exactly once', async () => {
      const ledger = await seeded();
      let spent = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.jsonValue({ maxDepth: 6 }),
            fc.anything({ maxDepth: 4, withBigInt: true, withDate: true, withMap: true }),
            fc.string({ unit: 'binary' }).map((text) => ({ text })),
          ),
          fc.integer({ min: 0, max: 20 }),
          async (metadata, amount) => {
            const hold = await ledger.reserve(reserveRequest(CHILD, 20));
            const request = {
              idempotencyKey: freshKey('commit'),
              actual: { unit: UNIT, amount },
              metadata,
            } as CommitRequest;
            const before = await snapshotLedgers(ledger);
            let accepted: boolean;
            try {
              await ledger.commit(hold.reservationId!, request);
              accepted = true;
            } catch (error) {
              expect((error as { code?: string }).code).toBe('INVALID_REQUEST');
              accepted = false;
            }
            if (accepted) {
              spent += amount;
              // The same retry replays and charges nothing more.
              await ledger.commit(hold.reservationId!, request);
            } else {
              expect(await snapshotLedgers(ledger)).toEqual(before);
              // A refused commit left the hold open: a valid commit settles it once.
              await ledger.commit(hold.reservationId!, {
                idempotencyKey: freshKey('commit'),
                actual: { unit: UNIT, amount },
              });
              spent += amount;
            }
            const child = (await snapshotLedgers(ledger))[`${CHILD}|${UNIT}`]!;
            expect(child).toMatchObject({ spent, reserved: 0 });
          },
        ),
        { numRuns: options.propertyRuns ?? 50 },
      );
    });
  });
}
