import { describe, expect, it } from 'vitest';
import { availableStoreKinds } from '@liminal/testkit';

describe('availableStoreKinds', () => {
  it('opens fresh, isolated stores of every kind, each usable and closable', async () => {
    const kinds = await availableStoreKinds();
    expect(kinds.map((kind) => kind.name)).toEqual(expect.arrayContaining(['memory', 'sqlite']));
    for (const kind of kinds) {
      const [first, second] = [await kind.open(), await kind.open()];
      await first.append('shared-name', new Uint8Array([1]), 0);
      expect(await second.streamLength('shared-name')).toBe(0);
      await Promise.all([first.close(), second.close()]);
    }
  });
});
