import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fifo } from '../src/internal/Fifo.js';
import { History } from '../src/internal/History.js';

// The conversation's queue and log: any sequence of operations must behave
// like the array it replaces, and older versions must never change.
describe('Fifo (the conversation queue)', () => {
  it('property: push/shift/unshift behave like an array, and every earlier version keeps its contents', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('push' as const), value: fc.integer() }),
      fc.record({ op: fc.constant('unshift' as const), value: fc.integer() }),
      fc.record({ op: fc.constant('shift' as const) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        let queue = Fifo.empty<number>();
        let model: number[] = [];
        const versions: [Fifo<number>, number[]][] = [];
        for (const operation of operations) {
          if (operation.op === 'push') [queue, model] = [queue.push(operation.value), [...model, operation.value]];
          else if (operation.op === 'unshift') [queue, model] = [queue.unshift(operation.value), [operation.value, ...model]];
          else {
            const taken = queue.shift();
            expect(taken?.[0]).toBe(model[0]);
            if (taken !== undefined) [queue, model] = [taken[1], model.slice(1)];
          }
          expect(queue.length).toBe(model.length);
          versions.push([queue, model]);
        }
        for (const [version, contents] of versions) expect(drain(version)).toEqual(contents);
      }),
    );
  });
});

describe('History (the conversation log)', () => {
  it('property: append keeps order, and earlier versions are unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer(), { maxLength: 3 }), { maxLength: 30 }), (batches) => {
        let history = History.empty<number>();
        const versions: [History<number>, number[]][] = [[history, []]];
        for (const batch of batches) {
          history = history.append(...batch);
          versions.push([history, [...versions.at(-1)![1], ...batch]]);
        }
        for (const [version, contents] of versions) {
          expect(version.toArray()).toEqual(contents);
          expect(version.length).toBe(contents.length);
        }
      }),
    );
  });
});

function drain(queue: Fifo<number>): number[] {
  const items: number[] = [];
  for (let next = queue.shift(); next !== undefined; next = next[1].shift()) items.push(next[0]);
  return items;
}
