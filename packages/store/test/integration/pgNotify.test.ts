import { afterAll, describe, expect, it } from 'vitest';
import { CommitConflictError, PostgresStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';

const url = await postgresForTests();
const schema = uniqueSchemaName();

afterAll(async () => {
  if (url !== undefined) await dropTestSchema(schema, url);
});

/** Names `watcher` reports until every one of `wanted` was seen, in the order reported. */
async function namesUntil(watcher: AsyncIterator<string>, wanted: readonly string[]): Promise<string[]> {
  const seen: string[] = [];
  while (!wanted.every((name) => seen.includes(name))) {
    const next = await watcher.next();
    if (next.done === true) throw new Error(`watch ended before ${JSON.stringify(wanted)} (saw ${JSON.stringify(seen)})`);
    seen.push(next.value);
  }
  return seen;
}

// Two stores on one schema: each has its own LISTEN connection, so the watcher hears the writer only through NOTIFY.
describe.skipIf(url === undefined)('PostgreSQL NOTIFY from inside the writing transaction', () => {
  it('tells another store of the streams each write path grew, and nothing of a rolled-back commit of a group', async () => {
    const writer = new PostgresStore(url!, { schema });
    const watching = new PostgresStore(url!, { schema });
    try {
      await writer.append('n/before', new Uint8Array([1]), 0);
      const watcher = watching.watch('n/')[Symbol.asyncIterator]();
      // Reported by the resynchronisation once LISTEN is up: from here on, only NOTIFYs wake it.
      await namesUntil(watcher, ['n/before']);

      // A group commit (one call, each commit in a block of its own): the second one's check fails.
      const [kept, refused] = await Promise.allSettled([
        writer.commit([{ op: 'append', stream: 'n/kept', payloads: [new Uint8Array([1])], expectedSeq: 0 }]),
        writer.commit([
          { op: 'append', stream: 'n/refused', payloads: [new Uint8Array([1])], expectedSeq: 0 },
          { op: 'check', key: 'absent', equals: 5 },
        ]),
      ]);
      expect(kept.status).toBe('fulfilled');
      expect(refused.status === 'rejected' && refused.reason).toBeInstanceOf(CommitConflictError);
      // A lone append, then appends of one tick (one batch statement).
      await writer.append('n/alone', new Uint8Array([1]), 0);
      await Promise.all([writer.append('n/batch-1', new Uint8Array([1]), 0), writer.append('n/batch-2', new Uint8Array([1]), 0)]);

      // Notifications arrive in commit order: a NOTIFY of the rolled-back block would come before the later ones.
      const seen = await namesUntil(watcher, ['n/kept', 'n/alone', 'n/batch-1', 'n/batch-2']);
      expect(seen).not.toContain('n/refused');
      expect(seen.slice(0, 2)).toEqual(['n/kept', 'n/alone']);
      expect(await writer.streamLength('n/refused')).toBe(0);
      await watcher.return?.();
    } finally {
      await Promise.all([writer.close(), watching.close()]);
    }
  });
});
