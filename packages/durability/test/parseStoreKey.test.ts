import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStoreKey, storeKey } from '../src/index.js';

describe('parseStoreKey', () => {
  it('reads back the parts storeKey joined, escapes included', () => {
    expect(parseStoreKey(storeKey('cursor', 'billing:v2', 'orders', 3))).toEqual(['cursor', 'billing:v2', 'orders', '3']);
    expect(parseStoreKey(storeKey('cursor', 'a/b%2F', 'x%y', 0))).toEqual(['cursor', 'a/b%2F', 'x%y', '0']);
  });

  it('property: storeKey(...parseStoreKey(k)) is k and the parts come back exactly', () => {
    const part = fc.string({ minLength: 1, unit: fc.constantFrom('a', '/', '%', '2', 'F', ':', 'é') });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        const key = storeKey(...parts);
        expect(parseStoreKey(key)).toEqual(parts);
      }),
    );
  });

  it('is undefined for a name storeKey cannot have built', () => {
    expect(parseStoreKey('a//b')).toBeUndefined();
    expect(parseStoreKey('a/%zz')).toBeUndefined();
    expect(parseStoreKey('/a')).toBeUndefined();
  });
});
