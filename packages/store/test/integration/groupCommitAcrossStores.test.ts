import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommitConflictError, type DurableStore, PostgresStore, SequenceConflictError, SqliteStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';

const url = await postgresForTests();
const schemas: string[] = [];

const directory = mkdtempSync(join(tmpdir(), 'liminal-two-stores-'));

afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
  rmSync(directory, { recursive: true, force: true });
});

/** Two stores on one database, as two processes would have them (two pools; two connections to one file). */
interface Target {
  readonly name: string;
  readonly openPair: () => [DurableStore, DurableStore];
}

let files = 0;
const targets: Target[] = [
  {
    name: 'SQLite',
    openPair: () => {
      const path = join(directory, `shared-${files++}.db`);
      return [new SqliteStore(path), new SqliteStore(path)];
    },
  },
  ...(url === undefined
    ? []
    : [
        {
          name: 'PostgreSQL',
          openPair: (): [DurableStore, DurableStore] => {
            const schema = uniqueSchemaName();
            schemas.push(schema);
            return [new PostgresStore(url, { schema, poolSize: 4 }), new PostgresStore(url, { schema, poolSize: 4 })];
          },
        },
      ]),
];

interface Tally {
  appended: number;
  conflicts: number;
  /** Anything else, by message: what must stay empty. */
  failures: Record<string, number>;
}

/** Every stream at `sequence`, all started at once (one group commit), in the order given. */
async function appendAll(store: DurableStore, streams: readonly string[], sequence: number, tally: Tally): Promise<void> {
  const outcomes = await Promise.allSettled(streams.map((stream) => store.append(stream, new Uint8Array([sequence]), sequence)));
  count(outcomes, tally);
}

function count(outcomes: readonly PromiseSettledResult<unknown>[], tally: Tally): void {
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') tally.appended++;
    else if (outcome.reason instanceof CommitConflictError) tally.conflicts++;
    else if (outcome.reason instanceof SequenceConflictError) tally.conflicts++;
    else {
      const reason = outcome.reason instanceof Error ? `${outcome.reason.name}: ${outcome.reason.message}` : String(outcome.reason);
      tally.failures[reason] = (tally.failures[reason] ?? 0) + 1;
    }
  }
}

describe.each(targets)('$name group commit across stores', ({ openPair }) => {
  it(
    'two stores appending to the same 500 streams in opposite orders for 20 rounds never deadlock: one winner per stream and round, every loser a SequenceConflictError',
    async () => {
      const [up, down] = openPair();
      const streams = Array.from({ length: 500 }, (_, index) => `s-${String(index).padStart(3, '0')}`);
      const reversed = [...streams].reverse();
      const rounds = 20;
      const tally: Tally = { appended: 0, conflicts: 0, failures: {} };
      try {
        for (let round = 0; round < rounds; round++) {
          await Promise.all([appendAll(up, streams, round, tally), appendAll(down, reversed, round, tally)]);
        }
        console.log(`two stores, opposite orders, 500 streams x ${rounds} rounds: ${JSON.stringify(tally)}`);
        expect(tally.failures).toEqual({});
        expect(tally.appended).toBe(streams.length * rounds);
        expect(tally.conflicts).toBe(streams.length * rounds);
        for (const stream of [streams[0]!, streams[250]!, streams[499]!]) {
          expect((await up.readFrom(stream, 0, 100)).map((entry) => entry.sequence)).toEqual(Array.from({ length: rounds }, (_, n) => n));
        }
      } finally {
        await Promise.all([up.close(), down.close()]);
      }
    },
    240_000,
  );

  it(
    'two stores committing to the same pairs of streams with the ops in opposite orders never surface a deadlock',
    async () => {
      const [a, b] = openPair();
      // Pair i is streams i and i + 100: every commit's targets interleave with others', the case sorting alone cannot order.
      const pairs = Array.from({ length: 100 }, (_, index) => [`p-${String(index).padStart(3, '0')}`, `p-${String(index + 100).padStart(3, '0')}`] as const);
      const rounds = 10;
      const tally: Tally = { appended: 0, conflicts: 0, failures: {} };
      const commitAll = async (store: DurableStore, round: number, reversed: boolean) => {
        const order = reversed ? [...pairs].reverse() : pairs;
        const outcomes = await Promise.allSettled(
          order.map(([first, second]) => {
            const ops = [first, second].map((stream) => ({ op: 'append' as const, stream, payloads: [new Uint8Array([round])], expectedSeq: round }));
            return store.commit(reversed ? ops.reverse() : ops);
          }),
        );
        count(outcomes, tally);
      };
      try {
        for (let round = 0; round < rounds; round++) await Promise.all([commitAll(a, round, false), commitAll(b, round, true)]);
        console.log(`two stores, commits of stream pairs in opposite orders, 100 pairs x ${rounds} rounds: ${JSON.stringify(tally)}`);
        expect(tally.failures).toEqual({});
        expect(tally.appended).toBe(pairs.length * rounds);
        expect(tally.conflicts).toBe(pairs.length * rounds);
        for (const [first, second] of [pairs[0]!, pairs[99]!]) {
          expect(await a.streamLength(first)).toBe(rounds);
          expect(await a.streamLength(second)).toBe(rounds);
        }
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
    240_000,
  );
});
