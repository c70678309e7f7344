import { createHash } from 'node:crypto';
import pg from 'pg';
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

/** The store's channels, as the README names them: `liminal_<hash of schema>`, lists on `…_v2`. */
const legacyChannel = `liminal_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
const listChannel = `${legacyChannel}_v2`;

const one = new Uint8Array([1]);

/** A raw LISTEN on `channel`: every payload received, in order. */
async function rawListener(channel: string): Promise<{ payloads: string[]; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url! });
  await client.connect();
  const payloads: string[] = [];
  client.on('notification', (message) => payloads.push(message.payload ?? ''));
  await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  return { payloads, client };
}

/** Waits (a bound only) until `done()` holds, checking after each event-loop turn. */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; !done(); turn++) {
    if (turn > 10_000) throw new Error('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
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

  it('sends one notification per write: a commit of several appends, a group of commits, a batch of appends', async () => {
    const writer = new PostgresStore(url!, { schema });
    const raw = await rawListener(listChannel);
    try {
      await writer.commit([
        { op: 'append', stream: 'one/a', payloads: [one, one], expectedSeq: 0 },
        { op: 'cas', key: 'one/counter', expected: 0, next: 1 },
        { op: 'append', stream: 'one/b', payloads: [one], expectedSeq: 0 },
        { op: 'append', stream: 'one/c', payloads: [], expectedSeq: 0 },
      ]);
      // Three commits of one tick run as one call; the refused one adds nothing to its notice.
      await Promise.allSettled([
        writer.commit([{ op: 'append', stream: 'one/d', payloads: [one], expectedSeq: 0 }]),
        writer.commit([{ op: 'append', stream: 'one/refused', payloads: [one], expectedSeq: 3 }]),
        writer.commit([{ op: 'append', stream: 'one/e', payloads: [one], expectedSeq: 0 }]),
      ]);
      await Promise.allSettled([
        writer.append('one/f', one, 0),
        writer.append('one/g', one, 0),
        writer.append('one/taken', one, 5),
      ]);
      await writer.append('one/last', one, 0);
      await until(() => raw.payloads.length >= 4);
      expect(raw.payloads.map((payload) => JSON.parse(payload) as unknown)).toEqual([
        ['one/a', 'one/b'],
        ['one/d', 'one/e'],
        ['one/f', 'one/g'],
        ['one/last'],
      ]);
    } finally {
      await Promise.all([writer.close(), raw.client.end()]);
    }
  });

  it('names every stream of a commit of 64 long names sharing a prefix (front-coded to fit), surrogate pairs included', async () => {
    const writer = new PostgresStore(url!, { schema });
    const watching = new PostgresStore(url!, { schema });
    const raw = await rawListener(listChannel);
    try {
      const shared = `shared/${'m'.repeat(150)}/`;
      const names = [...Array.from({ length: 64 }, (_, index) => `${shared}${index}`), 'shared/\u{1F600}', 'shared/\u{1F601}'];
      await writer.append('shared/before', one, 0);
      const watcher = watching.watch('shared/')[Symbol.asyncIterator]();
      await namesUntil(watcher, ['shared/before']);
      await writer.commit(names.map((stream) => ({ op: 'append', stream, payloads: [one], expectedSeq: 0 })));
      // Far more than 8000 bytes of names, one notice that still lists each of them.
      expect(names.join('').length).toBeGreaterThan(8_000);
      expect(await namesUntil(watcher, names)).toEqual(expect.arrayContaining(names));
      await until(() => raw.payloads.length >= 2);
      expect(raw.payloads).toHaveLength(2);
      expect(raw.payloads.every((payload) => payload !== '')).toBe(true);
      await watcher.return?.();
    } finally {
      await Promise.all([writer.close(), watching.close(), raw.client.end()]);
    }
  });

  it('sends a commit whose names do not fit as an empty notice, which wakes every watcher for each of its streams', async () => {
    const writer = new PostgresStore(url!, { schema });
    const watching = new PostgresStore(url!, { schema });
    const raw = await rawListener(listChannel);
    try {
      // Names that share no long prefix: the notice cannot shrink them below 8000 bytes.
      const names = Array.from({ length: 30 }, (_, index) => `wide/${index}/${'x'.repeat(300)}`);
      await writer.append('wide/7/before', one, 0);
      const watcher = watching.watch('wide/7/')[Symbol.asyncIterator]();
      await namesUntil(watcher, ['wide/7/before']);
      await writer.commit(names.map((stream) => ({ op: 'append', stream, payloads: [one], expectedSeq: 0 })));
      await namesUntil(watcher, [names[7]!]);
      await until(() => raw.payloads.length >= 2);
      expect(raw.payloads.at(-1)).toBe('');
      await watcher.return?.();
    } finally {
      await Promise.all([writer.close(), watching.close(), raw.client.end()]);
    }
  });

  it('wakes watchers for the one-name notices of earlier versions, and for a notice it cannot read', async () => {
    const watching = new PostgresStore(url!, { schema });
    const raw = new pg.Client({ connectionString: url! });
    await raw.connect();
    try {
      await watching.append('old/existing', one, 0);
      const watcher = watching.watch('old/')[Symbol.asyncIterator]();
      await namesUntil(watcher, ['old/existing']);
      // What a process of the previous version sends for a stream it grew.
      await raw.query('SELECT pg_notify($1, $2)', [legacyChannel, 'old/from-previous-version']);
      expect(await namesUntil(watcher, ['old/from-previous-version'])).toEqual(['old/from-previous-version']);
      // A payload of a format this version does not know: every watcher is woken for every stream under its prefix.
      await raw.query('SELECT pg_notify($1, $2)', [listChannel, '{"format":3}']);
      expect(await namesUntil(watcher, ['old/existing'])).toEqual(['old/existing']);
      await watcher.return?.();
    } finally {
      await Promise.all([watching.close(), raw.end()]);
    }
  });

  it('creates its commit functions in a schema made without them (by an earlier version), and its commits wake watchers', async () => {
    const upgradeSchema = uniqueSchemaName();
    const raw = new pg.Client({ connectionString: url! });
    await raw.connect();
    try {
      const earlier = new PostgresStore(url!, { schema: upgradeSchema });
      await earlier.append('up/before', one, 0);
      await earlier.close();
      // An earlier version's schema: its tables, and commit functions under other names than this version's.
      const functions = await raw.query<{ signature: string }>(
        `SELECT p.oid::regprocedure::text AS signature FROM pg_catalog.pg_proc p WHERE p.pronamespace = $1::regnamespace`,
        [pg.escapeIdentifier(upgradeSchema)],
      );
      expect(functions.rows.length).toBeGreaterThan(0);
      for (const { signature } of functions.rows) await raw.query(`DROP FUNCTION ${signature}`);

      const writer = new PostgresStore(url!, { schema: upgradeSchema });
      const watching = new PostgresStore(url!, { schema: upgradeSchema });
      try {
        const watcher = watching.watch('up/')[Symbol.asyncIterator]();
        await namesUntil(watcher, ['up/before']);
        await writer.commit([{ op: 'append', stream: 'up/after', payloads: [one], expectedSeq: 0 }]);
        await namesUntil(watcher, ['up/after']);
        await watcher.return?.();
      } finally {
        await Promise.all([writer.close(), watching.close()]);
      }
    } finally {
      await raw.end();
      await dropTestSchema(upgradeSchema, url!);
    }
  });
});
