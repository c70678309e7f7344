import { InvalidArgumentError } from '@liminal/store';

const FNV_OFFSET_BASIS = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;
const utf8 = new TextEncoder();

/** FNV-1a 64-bit over the key's UTF-8 bytes: the one hash behind keyHash and partitionFor. */
export function fnv1a64(key: string): bigint {
  // TextEncoder would silently hash String(key): 5 and '5' must not share a stream.
  if (typeof key !== 'string') throw new InvalidArgumentError('key', `expected a string, got ${typeof key}`);
  let hash = FNV_OFFSET_BASIS;
  for (const byte of utf8.encode(key)) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK_64;
  }
  return hash;
}
