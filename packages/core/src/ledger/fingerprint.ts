// A streaming 53-bit fingerprint (cyrb53's two multiplicative lanes) over a length-prefixed encoding:
// every part is written with a tag or its length first, so two different part sequences never encode
// to the same stream, and equal fingerprints mean equal payloads up to a ~2^-53 collision chance.
// Parts are hashed as they are read from the request, so no payload string is built on the hot path.
// State is module-level, and safe so: two numbers, reset by every `start`, and each fingerprint runs
// start → finish synchronously with no await inside, so no two callers (or tenants) ever interleave.

let h1 = 0;
let h2 = 0;

function mix(code: number): void {
  h1 = Math.imul(h1 ^ code, 2654435761);
  h2 = Math.imul(h2 ^ code, 1597334677);
}

/** Starts a fingerprint with a domain tag (so payloads of different operations never compare equal). */
export function start(domain: number): void {
  h1 = 0xdeadbeef;
  h2 = 0x41c6ce57;
  mix(domain);
}

/** A string part; `undefined` is distinct from every string, including ''. */
export function text(value: string | undefined): void {
  if (value === undefined) {
    mix(0);
    return;
  }
  mix(value.length + 1);
  for (let i = 0; i < value.length; i++) mix(value.charCodeAt(i));
}

/** A number part; `undefined` is distinct from every number. Integers are mixed exactly (53 bits). */
export function number(value: number | undefined): void {
  if (value === undefined) {
    mix(0);
  } else if (Number.isSafeInteger(value)) {
    const low = value % 4294967296;
    mix(1);
    mix(low | 0);
    mix((value - low) / 4294967296);
  } else {
    mix(2);
    text(String(value));
  }
}

/** The running state, to resume a fingerprint from a memoized prefix (see payloads.ts). */
export function lanes(): [number, number] {
  return [h1, h2];
}

/** Resumes from a state returned by {@link lanes}. */
export function resume(lane1: number, lane2: number): void {
  h1 = lane1;
  h2 = lane2;
}

/** The 53-bit fingerprint of everything written since `start`. */
export function finish(): number {
  let a = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  a ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  let b = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  b ^= Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}

/** The fingerprint of one string (e.g. a canonical JSON payload). */
export function fingerprintOf(domain: number, value: string): number {
  start(domain);
  text(value);
  return finish();
}
