import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { runTogether, worker } from './children.js';

const workers = 4;
const appendsPerWorker = 500;
const casPerWorker = 250;
/** Kept small for CI; the two-store test in groupCommitAcrossStores.test.ts is the 500 x 20 run. */
const groupStreams = 200;
const groupRounds = 10;

interface SharedStore {
  readonly name: string;
  url(): string;
  cleanUp(): Promise<void>;
}

function sqliteTarget(): SharedStore {
  const directory = mkdtempSync(join(tmpdir(), 'liminal-race-'));
  return {
    name: 'sqlite',
    url: () => `sqlite:${join(directory, 'race.db')}`,
    cleanUp: async () => rmSync(directory, { recursive: true, force: true }),
  };
}

function postgresTarget(baseUrl: string): SharedStore {
  const schema = uniqueSchemaName();
  return {
    name: 'postgres',
    url: () => `${baseUrl}?schema=${schema}`,
    cleanUp: () => dropTestSchema(schema, baseUrl),
  };
}

const postgresUrl = await postgresForTests();
const targets = [sqliteTarget(), ...(postgresUrl === undefined ? [] : [postgresTarget(postgresUrl)])];

afterAll(async () => {
  for (const target of targets) await target.cleanUp();
});

/**
 * Each race is 2000 writes through up to four loaded processes plus their
 * start-up; on a machine shared with other test runs it can take far longer
 * than the default 30 s, which says nothing about correctness.
 */
const raceTimeoutMs = 240_000;

const race = async (target: SharedStore, mode: 'append' | 'cas', name: string, count: number) => {
  const argLists = Array.from({ length: workers }, (_, id) => [target.url(), mode, name, `w${id}`, String(count)]);
  const outputs = await runTogether(worker('racer'), argLists);
  return outputs.map((output) => JSON.parse(output) as { successes: number; conflicts: number });
};

describe.each(targets)(`$name shared by ${workers} processes`, (target) => {
  it(`keeps ${workers} processes racing read-then-append on one stream gap-free, each payload exactly once`, async () => {
    const results = await race(target, 'append', 'race', appendsPerWorker);
    const total = workers * appendsPerWorker;
    const store = await openStore(target.url());
    const entries = await store.readFrom('race', 0, total + 10);
    await store.close();

    expect(entries.map((entry) => entry.sequence)).toEqual(Array.from({ length: total }, (_, index) => index));
    const payloads = entries.map((entry) => new TextDecoder().decode(entry.payload));
    const expected = Array.from({ length: workers }, (_, id) =>
      Array.from({ length: appendsPerWorker }, (_, index) => `w${id}:${index}`),
    ).flat();
    expect([...payloads].sort()).toEqual([...expected].sort());
    // Each worker's entries appear in the order it wrote them.
    for (let id = 0; id < workers; id++) {
      const own = payloads.filter((payload) => payload.startsWith(`w${id}:`));
      expect(own).toEqual(expected.filter((payload) => payload.startsWith(`w${id}:`)));
    }
    expect(results.every((result) => result.successes === appendsPerWorker)).toBe(true);
  }, raceTimeoutMs);

  it(`ends a race of cas increments with the counter equal to the number of successful cas calls`, async () => {
    const results = await race(target, 'cas', 'hits', casPerWorker);
    const store = await openStore(target.url());
    const value = await store.readValue('hits');
    await store.close();
    expect(value).toBe(results.reduce((sum, result) => sum + result.successes, 0));
    expect(value).toBe(workers * casPerWorker);
  }, raceTimeoutMs);

  it(`lets ${workers} processes group-commit appends to the same ${groupStreams} streams in different orders without a deadlock surfacing`, async () => {
    const orders = ['up', 'down', 'odd', 'even'];
    const outputs = await runTogether(
      worker('groupRacer'),
      orders.map((order) => [target.url(), String(groupStreams), String(groupRounds), order]),
    );
    const results = outputs.map((output) => JSON.parse(output) as { appended: number; conflicts: number; failures: Record<string, number> });
    console.log(`${target.name}: ${workers} processes x ${groupStreams} streams x ${groupRounds} rounds: ${JSON.stringify(results)}`);
    expect(results.map((result) => result.failures)).toEqual(orders.map(() => ({})));
    expect(results.reduce((sum, result) => sum + result.appended, 0)).toBe(groupStreams * groupRounds);
    expect(results.reduce((sum, result) => sum + result.appended + result.conflicts, 0)).toBe(workers * groupStreams * groupRounds);
    const store = await openStore(target.url());
    try {
      for (const stream of ['g-0000', `g-${String(groupStreams - 1).padStart(4, '0')}`]) {
        expect((await store.readFrom(stream, 0, groupRounds + 1)).map((entry) => entry.sequence)).toEqual(
          Array.from({ length: groupRounds }, (_, index) => index),
        );
      }
    } finally {
      await store.close();
    }
  }, raceTimeoutMs);
});
