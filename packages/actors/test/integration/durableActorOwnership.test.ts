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

  constructor(path: string) {
    this.#child = spawn(process.execPath, [...sourceNodeArgs, owner, path]);
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
    const store = new SqliteStore(path);
    try {
      const machine = setup({}).createMachine({ id: 'shared', context: { n: 0 }, on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } } });
      const reopened = await createDurableActor(machine, { store, id: 'shared' });
      expect(reopened.getSnapshot().context.n).toBe(3);
      await reopened.stop();
    } finally {
      await store.close();
    }
  }, 120_000);
});
