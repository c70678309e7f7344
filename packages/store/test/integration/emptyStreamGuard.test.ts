import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, SqliteStore, type DurableStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { useTempDirectory } from '../support/tempDirectory.js';
import { runTogether, worker } from './children.js';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

const pairs = 20;
const rounds = 25;

/**
 * Write skew across two processes: A's commit holds only if stream a is
 * empty and B's only if stream b still has length 1, and each writes what
 * the other checks. Serially one of them always fails, so both succeeding
 * for one pair means a condition was not held until COMMIT.
 */
async function raceOnEmptyStreams(storeUrl: string, open: () => DurableStore): Promise<void> {
  const setup = open();
  for (let round = 0; round < rounds; round++) {
    await Promise.all(Array.from({ length: pairs }, (_, pair) => setup.append(`b-${round}-${pair}`, new Uint8Array([0]), 0)));
  }
  const outputs = await runTogether(worker('emptyGuardRacer'), [
    [storeUrl, 'A', String(pairs), String(rounds)],
    [storeUrl, 'B', String(pairs), String(rounds)],
  ]);
  const [a, b] = outputs.map((output) => JSON.parse(output.trim().split('\n').at(-1)!) as { won: string[]; failures: string[] });
  const bothWon = a!.won.filter((name) => b!.won.includes(name));
  console.log(`empty-stream write skew, ${pairs * rounds} pairs: A won ${a!.won.length}, B won ${b!.won.length}, both ${bothWon.length}`);
  expect([...a!.failures, ...b!.failures]).toEqual([]);
  expect(bothWon).toEqual([]);
  // Every pair has exactly the outcome of its winner (or of none): the stored state agrees.
  for (const name of [...a!.won.slice(0, 5), ...b!.won.slice(0, 5)]) {
    const [aLength, bLength] = [await setup.streamLength(`a-${name}`), await setup.streamLength(`b-${name}`)];
    expect([aLength, bLength]).toEqual(a!.won.includes(name) ? [0, 2] : [1, 1]);
  }
  await setup.close();
}

describe('a condition on an empty stream holds until COMMIT, across processes', () => {
  const tempFile = useTempDirectory('liminal-empty-guard-');

  it.skipIf(url === undefined)('on PostgreSQL: two processes in write skew never both commit', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const storeUrl = `${url!}?schema=${schema}`;
    await raceOnEmptyStreams(storeUrl, () => new PostgresStore(url!, { schema }));
  }, 120_000);

  it('on SQLite: two processes in write skew never both commit', async () => {
    const path = tempFile('guard.db');
    await raceOnEmptyStreams(`sqlite:${path}`, () => new SqliteStore(path));
  }, 120_000);
});
