/** Zero padding by length, so an id costs no padStart allocation. */
const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000'];

/** `head` + the counter in base 36, padded to 8 digits. */
function withDigits(head: string, counter: number): string {
  const digits = counter.toString(36);
  return head + (digits.length < 8 ? ZEROS[8 - digits.length] + digits : digits);
}

/**
 * Ids of one ledger instance: a prefix, a random instance tag and a shared base-36 counter padded to 8
 * digits (`rsv_k3j9x0a100000001`), so ids sort by creation within an instance.
 */
export class IdSource {
  private readonly tag = Math.random().toString(36).slice(2, 10);
  private readonly reservationHead = `rsv_${this.tag}`;
  private counter = 0;

  next(prefix: 'rsv_' | 'evt_' | 'led_'): string {
    const head = prefix === 'rsv_' ? this.reservationHead : `${prefix}${this.tag}`;
    return withDigits(head, this.counter++);
  }

  /** The reservation id `next('rsv_')` returned for `sequence` (built again: rows do not keep it). */
  reservationId(sequence: number): string {
    return withDigits(this.reservationHead, sequence);
  }

  /**
   * True when `id`, whose digits {@link sequenceOf} read as `sequence`, is exactly the reservation id of
   * `sequence`: this instance's reservation prefix and no more digits than the padding needs.
   */
  isReservationId(id: string, sequence: number): boolean {
    let digits = 1;
    for (let rest = sequence; rest >= 36; rest = Math.floor(rest / 36)) digits++;
    const head = this.reservationHead;
    return id.length === head.length + Math.max(8, digits) && id.startsWith(head);
  }

  /** The counter behind the id the last {@link next} returned. */
  get last(): number {
    return this.counter - 1;
  }

  /**
   * The counter an id of this instance was made from (read back from its digits), or -1 when it cannot be
   * one. Not a full check: a caller keying by the counter must still compare the stored id with `id`.
   */
  sequenceOf(id: string): number {
    // Every prefix has 4 chars, so the digits start at the same offset for all of them.
    const start = this.reservationHead.length;
    if (id.length < start + 8 || id.length > start + 10) return -1;
    let value = 0;
    for (let i = start; i < id.length; i++) {
      const char = id.charCodeAt(i);
      const digit = char >= 48 && char <= 57 ? char - 48 : char >= 97 && char <= 122 ? char - 87 : -1;
      if (digit < 0) return -1;
      value = value * 36 + digit;
    }
    return value;
  }
}
