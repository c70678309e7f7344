import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killWhenReady } from './support/killWhenReady.js';

const fixture = fileURLToPath(new URL('./fixtures/durableActorMidStep.ts', import.meta.url));

interface Run {
  readonly lines: unknown[];
  readonly signal: NodeJS.Signals | null;
  readonly pid: number;
}

/** Runs one phase; kills it with SIGKILL once it prints "ready" (or sees it kill itself). */
async function phase(url: string, effects: string, name: 'first' | 'again' | 'after'): Promise<Run> {
  const exit = await killWhenReady(fixture, [url, effects, name]);
  if (exit.signal !== 'SIGKILL') throw new Error(`phase ${name} exited with ${exit.code ?? exit.signal}:\n${exit.stderr}`);
  const lines = exit.stdout.split('\n').filter((line) => line !== '' && line !== 'ready').map((line) => JSON.parse(line) as unknown);
  return { lines, signal: exit.signal, pid: exit.pid };
}

const postgres = await postgresForTests();
const schema = uniqueSchemaName();
const stores = [
  { name: 'sqlite', url: (directory: string) => `sqlite:${join(directory, 'actor.db')}`, drop: async () => {} },
  ...(postgres === undefined ? [] : [{ name: 'postgres', url: () => `${postgres}?schema=${schema}`, drop: () => dropTestSchema(schema, postgres) }]),
];

// kill -9 at the two points a durable actor's guarantees are about: after an
// event is journaled (the parent kills the process), and in the middle of an
// event, between its journal write and its actions (an action kills its own
// process). Idempotency keys make a re-sent event apply once across both.
describe.each(stores)('durable actor killed mid-step ($name)', (kind) => {
  let directory: string;
  let effects: string;
  let runs: Record<'first' | 'again' | 'after', Run>;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'liminal-midstep-'));
    effects = join(directory, 'effects.log');
    const url = kind.url(directory);
    const first = await phase(url, effects, 'first');
    const again = await phase(url, effects, 'again');
    const after = await phase(url, effects, 'after');
    runs = { first, again, after };
  }, 120_000);

  afterAll(async () => {
    rmSync(directory, { recursive: true, force: true });
    await kind.drop();
  });

  const effectLines = () =>
    readFileSync(effects, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [pid, ...rest] = line.split(' ');
        return { pid: Number(pid), effect: rest.join(' ') };
      });

  it('an event re-sent with its key after a kill -9 is a duplicate: applied once', () => {
    expect(runs.first.lines).toEqual([{ k1: { kind: 'journaled' } }]);
    expect(runs.again.lines[0]).toEqual({ k1: { kind: 'duplicate' }, k2: { kind: 'journaled' }, context: { total: 2, crashes: 0, charged: false } });
    expect(effectLines().filter(({ effect }) => effect.startsWith('add'))).toEqual([
      { pid: runs.first.pid, effect: 'add first' },
      { pid: runs.again.pid, effect: 'add second' },
    ]);
  });

  it('killed between journaling an event and its actions: the event stays applied, the actions after the kill are lost (at most once), its child is invoked by the next owner', () => {
    // The process died inside the action: nothing after it ran, not even the line after `send`.
    expect(runs.again.lines).toHaveLength(1);
    expect(runs.after.lines).toEqual([
      // The redelivered crash event is a duplicate: the journaled one is not applied twice (crashes stays 1).
      { k3: { kind: 'duplicate' }, value: 'charged', context: { total: 2, crashes: 1, charged: true }, recovery: 'journal' },
    ]);
    const lines = effectLines();
    // `dieHere` ran once (in the killed process) and replay did not run it again; `afterDeath`, due after it, never ran.
    expect(lines.filter(({ effect }) => effect === 'dying')).toEqual([{ pid: runs.again.pid, effect: 'dying' }]);
    expect(lines.some(({ effect }) => effect === 'after death')).toBe(false);
    // The promise child the journaled transition invokes had not started; the next owner invoked it, once.
    expect(lines.filter(({ effect }) => effect === 'charge')).toEqual([{ pid: runs.after.pid, effect: 'charge' }]);
  });
});
