import { InvalidArgumentError } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyHash, partitionFor } from '../src/index.js';

/** FNV-1a 64 as the spec writes it, on bigints: the reference the fast limb arithmetic must match. */
function referenceFnv1a64(key: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(key)) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash;
}

describe('keyHash', () => {
  it('matches the FNV-1a 64 test vectors', () => {
    expect(keyHash('')).toBe('cbf29ce484222325');
    expect(keyHash('a')).toBe('af63dc4c8601ec8c');
    expect(keyHash('foobar')).toBe('85944171f73967e8');
  });

  it('hashes UTF-8 bytes and always yields 16 lowercase hex digits', () => {
    expect(keyHash('é')).toBe(keyHash('\u00e9'));
    expect(keyHash('é')).not.toBe(keyHash('e\u0301'));
    for (const key of ['x', 'order-1', '🦀', 'a'.repeat(1000)]) expect(keyHash(key)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('equals the bigint reference FNV-1a 64 for any text, ASCII or not (keyHash and partitionFor alike)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), fc.integer({ min: 1, max: 1_000 }), (key, partitions) => {
        const hash = referenceFnv1a64(key);
        expect(keyHash(key)).toBe(hash.toString(16).padStart(16, '0'));
        expect(partitionFor(key, partitions)).toBe(Number(hash % BigInt(partitions)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('rejects a key that is not a string instead of hashing its String() form', () => {
    for (const key of [5, undefined, null, {}]) expect(() => keyHash(key as never)).toThrow(InvalidArgumentError);
  });
});
