import { MemoryStore, type DurableStore, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codec, type GroupRecord } from '../src/codec.js';
import { groupKeysFor } from '../src/internal/groupKeys.js';
import { GroupView } from '../src/internal/GroupView.js';
import { MembershipLog } from '../src/internal/MembershipLog.js';

const PARTITIONS = 5;
const keys = groupKeysFor('orders', 'billing');
type LogRecord = Exclude<GroupRecord, { kind: 'groupSnapshot' }>;

/** Every store call waits for the fast-check scheduler first, so writers interleave in every order it picks. */
class ScheduledStore extends ForwardingStore {
  constructor(
    inner: DurableStore,
    readonly scheduler: fc.Scheduler,
    readonly name: string,
  ) {
    super(inner);
  }

  override async readValue(key: string) {
    await this.scheduler.schedule(Promise.resolve(), `${this.name} readValue`);
    return super.readValue(key);
  }

  override async readFrom(stream: string, fromSeq: number, limit: number) {
    await this.scheduler.schedule(Promise.resolve(), `${this.name} readFrom ${fromSeq}`);
    return super.readFrom(stream, fromSeq, limit);
  }

  override async commit(ops: readonly WriteOp[]) {
    await this.scheduler.schedule(Promise.resolve(), `${this.name} commit ${ops.map((op) => op.op).join('+')}`);
    return super.commit(ops);
  }
}

type Step = { readonly kind: 'join' } | { readonly kind: 'leave'; readonly pick: number } | { readonly kind: 'release'; readonly partition: number } | { readonly kind: 'compact' };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: 'join' as const }),
  fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('release' as const), partition: fc.nat({ max: PARTITIONS - 1 }) }),
  fc.constant({ kind: 'compact' as const }),
);

/** The state every member must reach: the appended records replayed in position order, with no compaction. */
function reference(appended: readonly { readonly position: number; readonly record: LogRecord }[]): GroupView {
  const view = new GroupView(PARTITIONS);
  for (const { position, record } of [...appended].sort((a, b) => a.position - b.position)) view.apply(position, record);
  return view;
}

/** Runs the scheduler until `work` settles (a store call may resume on a later tick than the scheduler looks). */
async function drain<T>(s: fc.Scheduler, work: Promise<T>): Promise<T> {
  let settled = false;
  const result = work.finally(() => (settled = true));
  while (!settled) {
    await s.waitAll();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return result;
}

const stateOf = (view: GroupView) => ({ position: view.position, members: [...view.members].sort(([a], [b]) => a - b), owners: view.owners });

describe('MembershipLog', () => {
  it('loses no record and keeps positions unique while writers append and compact concurrently (every interleaving fast-check picks)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(stepArb, { maxLength: 10 }), { minLength: 2, maxLength: 3 }), async (s, plans) => {
        const inner = new MemoryStore();
        const appended: { position: number; record: LogRecord }[] = [];
        const joined: number[] = [];
        const writers = plans.map((plan, w) => {
          const log = new MembershipLog(new ScheduledStore(inner, s, `w${w}`), keys, new GroupView(PARTITIONS));
          const append = async (record: LogRecord) => {
            const position = await log.append(record);
            appended.push({ position, record });
            return position;
          };
          const done = (async () => {
            for (const step of plan) {
              if (step.kind === 'join' || (step.kind === 'leave' && joined.length === 0)) joined.push(await append({ kind: 'memberJoined', memberId: `w${w}` }));
              else if (step.kind === 'leave') await append({ kind: 'memberLeft', incarnation: joined[step.pick % joined.length]!, reason: 'left' });
              else if (step.kind === 'release') await append({ kind: 'leaseReleased', incarnation: 0, partition: step.partition });
              else {
                await log.catchUp();
                await log.compact();
              }
            }
            await log.catchUp();
          })();
          return { log, done };
        });
        await drain(s, Promise.all(writers.map((writer) => writer.done)));

        // Positions are 0..n-1, each given once: no record was lost in a deleted epoch, none shares an incarnation.
        expect(appended.map((a) => a.position).sort((a, b) => a - b)).toEqual(appended.map((_, i) => i));
        const expected = stateOf(reference(appended));
        const reader = new MembershipLog(inner, keys, new GroupView(PARTITIONS));
        await reader.catchUp();
        expect(stateOf(reader.view)).toEqual(expected);
        // Writers caught up after their last step agree with it too, whatever they compacted.
        for (const writer of writers) {
          await drain(s, writer.log.catchUp());
          expect(stateOf(writer.log.view)).toEqual(expected);
        }
        // Only the current epoch's stream is left, and a reader replays only what came after its snapshot.
        expect((await inner.listStreams(keys.log)).length).toBeLessThanOrEqual(1);
        const stream = await inner.readFrom(keys.logStream(reader.epoch), 0, 10_000);
        const first = stream[0] === undefined ? undefined : codec.decode(stream[0].payload);
        const from = first?.kind === 'groupSnapshot' ? first.position : 0;
        expect(reader.epoch === 0).toBe(first?.kind !== 'groupSnapshot');
        expect(stream.length).toBe(appended.filter((a) => a.position >= from).length + (reader.epoch === 0 ? 0 : 1));
        expect(reader.length).toBe(stream.length);
      }),
      { numRuns: 200 },
    );
  });
});
