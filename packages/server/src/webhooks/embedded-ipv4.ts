// IPv6 addresses that carry an IPv4 address a packet may end up at: the guard checks the IPv4 address
// too, so `[2002:7f00:1::]` (6to4 of 127.0.0.1) is refused like 127.0.0.1 itself. The forms whose IPv4
// address sits at a fixed place are decoded here; a form that hides it where we cannot find it
// (NAT64 local-use `64:ff9b:1::/48`, whose layout depends on the operator's prefix length) is in the
// default blocked ranges instead.

/** An IPv4 address found inside an IPv6 one, and the form that carried it. */
export interface EmbeddedIpv4 {
  address: string;
  form:
    | 'IPv4-compatible'
    | 'IPv4-mapped'
    | 'IPv4-translated'
    | 'NAT64'
    | '6to4'
    | 'Teredo server'
    | 'Teredo client';
}

/** The 16 bytes of an IPv6 address (as `isIP` accepts it; a zone id is ignored), or undefined. */
function bytesOf(address: string): number[] | undefined {
  let text = address.split('%')[0]!.toLowerCase();
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) becomes its two hex groups.
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail !== null) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const words = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...rest];
  if (words.length !== 8 || words.some((word) => !/^[0-9a-f]{1,4}$/.test(word))) return undefined;
  return words.flatMap((word) => {
    const value = Number.parseInt(word, 16);
    return [value >> 8, value & 0xff];
  });
}

function dotted(bytes: number[]): string {
  return bytes.join('.');
}

/** Every IPv4 address an IPv6 address carries at a known place (none for an ordinary address). */
export function embeddedIpv4(address: string): EmbeddedIpv4[] {
  const bytes = bytesOf(address);
  if (bytes === undefined) return [];
  const zero = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  const last = bytes.slice(12, 16);
  if (zero(0, 12)) return [{ address: dotted(last), form: 'IPv4-compatible' }];
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return [{ address: dotted(last), form: 'IPv4-mapped' }];
  }
  // ::ffff:0:0/96, IPv4-translated (SIIT, RFC 2765): a stateless translator sends it to the IPv4 address.
  if (zero(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zero(10, 12)) {
    return [{ address: dotted(last), form: 'IPv4-translated' }];
  }
  // 64:ff9b::/96, RFC 6052's well-known NAT64 prefix: the IPv4 address is the last 32 bits.
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12)) {
    return [{ address: dotted(last), form: 'NAT64' }];
  }
  // 2002::/16, 6to4 (RFC 3056): the site's IPv4 address is bits 16-47.
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return [{ address: dotted(bytes.slice(2, 6)), form: '6to4' }];
  // 2001::/32, Teredo (RFC 4380): the server's IPv4 address is bits 32-63, the client's is the last 32
  // bits inverted.
  if (bytes[0] === 0x20 && bytes[1] === 0x01 && zero(2, 4)) {
    return [
      { address: dotted(bytes.slice(4, 8)), form: 'Teredo server' },
      { address: dotted(last.map((byte) => byte ^ 0xff)), form: 'Teredo client' },
    ];
  }
  return [];
}
