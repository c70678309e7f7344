import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOrResume } from '../../src/manifest.js';
import { openDemoStore, parseStoreUrl } from '../../src/storeUrl.js';
import { WorkerPool } from '../../src/workers.js';

const dir = mkdtempSync(join(tmpdir(), 'liminal-worker-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WorkerPool (real worker processes)', () => {
  it('a worker killed while the pool is stopping is reported as a death and not restarted', async () => {
    const location = parseStoreUrl(`sqlite:${join(dir, 'pool.db')}`);
    const store = await openDemoStore(location, 'create');
    const { run } = await startOrResume(store, { settings: { messages: 10, partitions: 1, seed: 1 }, explicit: new Set(), reset: false }, async () => false);
    await store.close();

    const notes: string[] = [];
    const failures: Error[] = [];
    const pool = new WorkerPool((index) => ({ location, run: run.run, index, crashRate: 0, metrics: false }), 1, {
      note: (line) => notes.push(line),
      failed: (error) => failures.push(error),
    });
    pool.start();
    const slot = pool.slots[0]!;
    // The worker logs its partitions once it has joined the group: from then on it only leaves when told to.
    while (!notes.some((line) => line.startsWith('[worker 0] holds partitions'))) await new Promise((resolve) => setTimeout(resolve, 50));
    const pid = slot.pid!;

    const stopped = pool.stop();
    // Sent in the same tick as the stop request: the worker cannot have left gracefully yet.
    process.kill(pid, 'SIGKILL');
    await stopped;

    expect(notes.filter((line) => /died/.test(line)), notes.join('\n')).toEqual([
      `worker 0 (pid ${pid}) died (SIGKILL) while the pool was stopping; not restarted`,
    ]);
    expect(slot.starts).toBe(1);
    expect(pool.restarts).toBe(0);
    expect(failures).toEqual([]);
  }, 120_000); // one worker process (tsx start-up) on a loaded 2-core machine
});
