import { InvalidArgumentError } from '@liminal/store';

const utf8 = new TextEncoder();

/** FNV-1a 64-bit over the key's UTF-8 bytes: the one hash behind keyHash and partitionFor. */
export function fnv1a64(key: string): bigint {
  const [h3, h2, h1, h0] = fnv1a64Limbs(key);
  return (BigInt(((h3 << 16) | h2) >>> 0) << 32n) | BigInt(((h1 << 16) | h0) >>> 0);
}

/** The same hash as 16 lowercase hex digits (keyHash), without going through a bigint. */
export function fnv1a64Hex(key: string): string {
  const [h3, h2, h1, h0] = fnv1a64Limbs(key);
  return hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
}

/**
 * The hash as four 16-bit limbs, most significant first. Limbs instead of a
 * bigint: a bigint multiply per byte made hashing 6 % of a `processOnce`
 * (every dedup stream name hashes its key); with 16-bit limbs every partial
 * product stays below 2^31, so plain numbers are exact.
 */
function fnv1a64Limbs(key: string): [number, number, number, number] {
  // TextEncoder would silently hash String(key): 5 and '5' must not share a stream.
  if (typeof key !== 'string') throw new InvalidArgumentError('key', `expected a string, got ${typeof key}`);
  // The offset basis 0xcbf29ce484222325.
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  // Non-ASCII keys are hashed over their UTF-8 bytes; an ASCII key's chars are its bytes.
  const bytes = isAscii(key) ? undefined : utf8.encode(key);
  const length = bytes === undefined ? key.length : bytes.length;
  for (let index = 0; index < length; index++) {
    h0 ^= bytes === undefined ? key.charCodeAt(index) : bytes[index]!;
    // Multiply by the prime 2^40 + 0x1b3: each limb times 0x1b3, plus the limbs shifted up by 40 bits.
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
    h2 = t2 & 0xffff;
    h1 = t1 & 0xffff;
    h0 = t0 & 0xffff;
  }
  return [h3, h2, h1, h0];
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}

function hex4(limb: number): string {
  return limb.toString(16).padStart(4, '0');
}
