import { randomFillSync } from 'node:crypto';

// Random bytes drawn 4 KiB at a time: one synchronous CSPRNG call per 512 span ids instead of one per
// delivery (`randomBytes(8)` per delivery was ~13-24 µs of the server's CPU per delivery under load).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
const ZERO_SPAN = '0'.repeat(16);

/** A fresh W3C span (parent) id: 8 random bytes as lowercase hex, never all zeros. */
export function newSpanId(): string {
  for (;;) {
    if (poolOffset === pool.length) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const id = pool.toString('hex', poolOffset, poolOffset + 8);
    poolOffset += 8;
    if (id !== ZERO_SPAN) return id;
  }
}
