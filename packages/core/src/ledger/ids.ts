/** Zero padding by length, so an id costs no padStart allocation. */
const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000'];

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
    const digits = (this.counter++).toString(36);
    return head + (digits.length < 8 ? ZEROS[8 - digits.length] + digits : digits);
  }
}
