import { describe, expect, it } from 'vitest';
import { type DurableStore, InvalidArgumentError, StoreClosedError } from '@liminal/store';

const bytes = (...values: number[]) => new Uint8Array(values);

/** Takes names from `names` until `wanted` comes; all names taken, in order. Wake-ups may repeat or include older streams. */
async function takeUntil(names: AsyncIterator<string>, wanted: string): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const next = await names.next();
    if (next.done === true) throw new Error(`watch ended before ${wanted} was seen (saw ${JSON.stringify(seen)})`);
    seen.push(next.value);
    if (next.value === wanted) return seen;
  }
}

/** `watch(prefix, {signal})`: wake-ups for growing streams, on every adapter (writes through the same store). */
export function describeWatchConformance(current: () => DurableStore): void {
  describe('watch', () => {
    it('yields the names of streams under the prefix that grew, from append, appendMany and commit', async () => {
      const store = current();
      const controller = new AbortController();
      const names = store.watch('jobs/', { signal: controller.signal })[Symbol.asyncIterator]();
      await store.append('other/a', bytes(1), 0);
      await store.append('jobs/a', bytes(1), 0);
      const first = await takeUntil(names, 'jobs/a');
      await store.appendMany('jobs/b', [bytes(1), bytes(2)], 0);
      const second = await takeUntil(names, 'jobs/b');
      await store.commit([
        { op: 'cas', key: 'jobs/counter', expected: 0, next: 1 },
        { op: 'append', stream: 'other/b', payloads: [bytes(1)], expectedSeq: 0 },
        { op: 'append', stream: 'jobs/c', payloads: [bytes(1)], expectedSeq: 0 },
      ]);
      const third = await takeUntil(names, 'jobs/c');
      for (const name of [...first, ...second, ...third]) expect(name.startsWith('jobs/')).toBe(true);
      controller.abort();
      expect(await names.next()).toEqual({ value: undefined, done: true });
    });

    it('sees writes made after watch returned, before the first next()', async () => {
      const store = current();
      const names = store.watch('early/')[Symbol.asyncIterator]();
      await store.append('early/x', bytes(1), 0);
      expect(await takeUntil(names, 'early/x')).toContain('early/x');
      await names.return?.();
    });

    it('coalesces several appends to one stream into one wake-up while the watcher is not looking', async () => {
      const store = current();
      const names = store.watch('burst/')[Symbol.asyncIterator]();
      for (let seq = 0; seq < 5; seq++) await store.append('burst/x', bytes(seq), seq);
      await store.append('burst/last', bytes(0), 0);
      const seen = await takeUntil(names, 'burst/last');
      expect(seen.filter((name) => name === 'burst/x').length).toBeLessThanOrEqual(2);
      await names.return?.();
    });

    it('lets for-await stop with break, and several watchers each get their own wake-ups', async () => {
      const store = current();
      const one = store.watch('w/');
      const two = store.watch('w/');
      await store.append('w/x', bytes(1), 0);
      for await (const name of one) if (name === 'w/x') break;
      for await (const name of two) if (name === 'w/x') break;
    });

    it('ends at once with an aborted signal, and ends every watcher when the store closes', async () => {
      const store = current();
      const controller = new AbortController();
      controller.abort();
      expect(await store.watch('', { signal: controller.signal })[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
      const waiting = store.watch('never/')[Symbol.asyncIterator]().next();
      await store.close();
      expect(await waiting).toEqual({ value: undefined, done: true });
      expect(() => store.watch('')).toThrow(StoreClosedError);
    });

    it('rejects a bad prefix or options with InvalidArgumentError', () => {
      const store = current();
      const any = (value: unknown) => value as never;
      for (const call of [
        () => store.watch(any(7)),
        () => store.watch('nul\u0000'),
        () => store.watch('', any(null)),
        () => store.watch('', any({ signal: 'stop' })),
      ]) {
        expect(call).toThrow(InvalidArgumentError);
      }
    });
  });
}
