import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '@liminal/store';
import { assign, setup } from 'xstate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDurableActor } from '../../src/index.js';
import { sourceNodeArgs } from '@liminal/testkit';

const owner = fileURLToPath(new URL('./fixtures/durableActorOwner.ts', import.meta.url));

class Owner {
  readonly #child: ChildProcessWithoutNullStreams;
  #buffer = '';
  #waiters: ((line: string) => void)[] = [];

  constructor(path: string, ...build: string[]) {
    this.#child = spawn(process.execPath, [...sourceNodeArgs, owner, path, ...build]);
    this.#child.stdout.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString();
      let newline: number;
      while ((newline = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        this.#waiters.shift()?.(line);
      }
    });
  }

  next(): Promise<string> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  send(): Promise<string> {
    const reply = this.next();
    this.#child.stdin.write('send\n');
    return reply;
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}

describe('two processes open the same durable actor', () => {
  let directory: string;
  beforeEach(() => void (directory = mkdtempSync(join(tmpdir(), 'liminal-owner-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('the newer owner fences the older one: its sends fail with ACTOR_FENCED and never interleave with the journal', async () => {
    const path = join(directory, 'actors.db');
    const first = new Owner(path);
    try {
      expect(await first.next()).toBe('opened');
      expect(await first.send()).toBe('ok 1');
      const second = new Owner(path);
      try {
        expect(await second.next()).toBe('opened');
        expect(await first.send()).toBe('error ACTOR_FENCED');
        expect(await second.send()).toBe('ok 2');
        expect(await first.send()).toBe('error ACTOR_FENCED');
        expect(await second.send()).toBe('ok 3');
      } finally {
        second.kill();
      }
    } finally {
      first.kill();
    }
    expect(await countOf(path)).toBe(3);
  }, 120_000);

  it('a zombie (SIGSTOPped while a newer owner opens and writes, then SIGCONTed) is fenced, and writes nothing', async () => {
    const path = join(directory, 'actors.db');
    const first = new Owner(path);
    try {
      expect(await first.next()).toBe('opened');
      expect(await first.send()).toBe('ok 1');
      first.signal('SIGSTOP');
      const second = new Owner(path);
      try {
        expect(await second.next()).toBe('opened');
        expect(await second.send()).toBe('ok 2');
        const late = first.send(); // read by the zombie only once it runs again
        first.signal('SIGCONT');
        expect(await late).toBe('error ACTOR_FENCED');
        expect(await second.send()).toBe('ok 3');
      } finally {
        second.kill();
      }
    } finally {
      first.signal('SIGCONT');
      first.kill();
    }
    expect(await countOf(path)).toBe(3);
  }, 120_000);

  it('code changed between two runs: a v2 build refuses a v1 journal (VERSION_MISMATCH, nothing run) until it carries v1 in versions, then v1 goes on', async () => {
    const path = join(directory, 'actors.db');
    const v1 = new Owner(path, 'v1');
    try {
      expect(await v1.next()).toBe('opened');
      expect(await v1.send()).toBe('ok 1');
      expect(await v1.send()).toBe('ok 2');
    } finally {
      v1.kill();
    }
    const v2 = new Owner(path, 'v2');
    try {
      expect(await v2.next()).toBe('error VERSION_MISMATCH');
    } finally {
      v2.kill();
    }
    const v2KeepingV1 = new Owner(path, 'v2', 'keep-v1');
    try {
      expect(await v2KeepingV1.next()).toBe('opened');
      expect(await v2KeepingV1.send()).toBe('ok 3'); // the v1 definition (by 1), not v2's (by 10)
    } finally {
      v2KeepingV1.kill();
    }
  }, 120_000);
});

/** The count the journal at `path` rebuilds to, reopened in this process. */
async function countOf(path: string): Promise<number> {
  const store = new SqliteStore(path);
  try {
    const machine = setup({}).createMachine({ id: 'shared', context: { n: 0 }, on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } } });
    const reopened = await createDurableActor(machine, { store, id: 'shared' });
    const count = reopened.getSnapshot().context.n;
    await reopened.stop();
    return count;
  } finally {
    await store.close();
  }
}
