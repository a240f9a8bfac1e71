// MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes: the hash behind rendezvous placement.
// Every router must compute the same owner for a session, in any process and any version, so the
// hash is a fixed, published function (checked against its reference vectors in the tests), not
// whatever a runtime offers. Murmur3 is fast, passes SMHasher's distribution tests and is what
// Cassandra and Kafka place with. Written here (~40 lines) rather than taken from a package: the
// npm ones are unmaintained or hash UTF-16 code units (another function on non-ASCII ids), and
// xxhash's are WebAssembly with an async start. 32 bits are plenty: a tie between two agents of a
// session is broken by agent id, and is rare (~n²/2^33 for n agents).
//
// The UTF-8 bytes are produced on the fly (no buffer per call); a lone surrogate counts as
// U+FFFD, as TextEncoder and Buffer.from encode it.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

export function murmur3(text: string, seed = 0): number {
  let h = seed >>> 0;
  let block = 0; // bytes gathered little-endian
  let filled = 0; // bytes in `block`
  let length = 0;

  const push = (byte: number): void => {
    block |= byte << (filled * 8);
    if (++filled === 4) {
      h ^= mixBlock(block);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      block = 0;
      filled = 0;
    }
    length++;
  };

  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x80) push(c);
    else if (c < 0x800) (push(0xc0 | (c >> 6)), push(0x80 | (c & 0x3f)));
    else if (c < 0x10000) (push(0xe0 | (c >> 12)), push(0x80 | ((c >> 6) & 0x3f)), push(0x80 | (c & 0x3f)));
    else (push(0xf0 | (c >> 18)), push(0x80 | ((c >> 12) & 0x3f)), push(0x80 | ((c >> 6) & 0x3f)), push(0x80 | (c & 0x3f)));
  }

  if (filled > 0) h ^= mixBlock(block);
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixBlock(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}
