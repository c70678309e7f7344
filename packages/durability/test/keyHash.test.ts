import { InvalidArgumentError } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { keyHash } from '../src/index.js';

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

  it('rejects a key that is not a string instead of hashing its String() form', () => {
    for (const key of [5, undefined, null, {}]) expect(() => keyHash(key as never)).toThrow(InvalidArgumentError);
  });
});
