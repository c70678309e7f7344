import { postgresForTests } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import { chaosPassed, runChaos } from '../../src/chaosHarness.js';

const postgresUrl = await postgresForTests();
const lines: string[] = [];
// Every kind of fault at least once, on as few orders as still leave work for the last kill after the zombie's
// pause and each restart (kill thresholds lie between 5% and 70% of the orders). PostgreSQL processes orders
// several times slower than SQLite here, so fewer of them span the same faults.
const small = { kills: 3, zombies: 1, workers: 2, partitions: 4, log: (line: string) => lines.push(line) };

describe('chaos (small): kill -9 workers at random moments, then verify', () => {
  it('on SQLite: 3 kills, a zombie, a worker joining mid-run and leaving gracefully: 0 lost, 0 duplicated, cursors never moved backwards', async () => {
    const report = await runChaos({ ...small, orders: 600, target: { kind: 'sqlite' }, seed: 101 });
    expect(report, lines.join('\n')).toMatchObject({ kills: 3, zombies: 1, joins: 1, leaves: 1, demoExitCode: 0, verifyExitCode: 0, lost: 0, duplicated: 0, cursorRegressions: 0 });
    expect(report.workerDeaths).toBeGreaterThanOrEqual(3);
    expect(chaosPassed(report, 3, 1)).toBe(true);
  }, 240_000);

  it.skipIf(postgresUrl === undefined)('on PostgreSQL: 3 kills, each worker restarted, 0 lost, 0 duplicated, cursors never moved backwards', async () => {
    const report = await runChaos({ ...small, orders: 400, target: { kind: 'postgres', url: postgresUrl! }, seed: 202 });
    expect(report, lines.join('\n')).toMatchObject({ kills: 3, demoExitCode: 0, verifyExitCode: 0, lost: 0, duplicated: 0, cursorRegressions: 0 });
    expect(report.workerDeaths).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
