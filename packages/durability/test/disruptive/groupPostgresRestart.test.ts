import { PostgresStore, StoreUnavailableError } from '@liminal/store';
import { type PrivatePostgres, privatePostgresForTests } from '@liminal/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableChannel, readChannel, readGroup, type GroupMember, type LeaseLostError, type MessageFailedError } from '../../src/index.js';

// A cluster of this file's own: restarting it disturbs nobody else's tests.
let cluster: PrivatePostgres | undefined;
beforeAll(async () => {
  cluster = await privatePostgresForTests();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Publishes `job-<from>` … `job-<to - 1>`, again after each outage (the idempotency key makes a retry safe). */
async function publish(channel: DurableChannel, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    for (;;) {
      try {
        await channel.publish(new TextEncoder().encode(`job-${i}`), { key: `job-${i}`, idempotencyKey: `job-${i}` });
        break;
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

describe('worker group members across a PostgreSQL restart', () => {
  it('ride it out: run keeps going, no failed message, nobody expired or rejoined, every job once', async (context) => {
    if (cluster === undefined) return context.skip();
    const url = cluster.url;
    const stores = [0, 1, 2].map(() => new PostgresStore(url, { schema: 'group_restart' }));
    const [publisherStore, ...memberStores] = stores as [PostgresStore, PostgresStore, PostgresStore];
    const members: GroupMember[] = [];
    try {
      const publisher = new DurableChannel(publisherStore, 'work', { partitions: 4 });
      const failed: MessageFailedError[] = [];
      const lost: LeaseLostError[] = [];
      const revoked: number[] = [];
      for (const [index, store] of memberStores.entries()) {
        const member = await new DurableChannel(store, 'work', { partitions: 4 }).join('jobs', { memberId: `m${index}` });
        member.on('failed', (error) => failed.push(error));
        member.on('lost', (error) => lost.push(error));
        members.push(member);
      }
      await until(async () => members.every((m) => m.assignment().length === 2), 'a 2/2 split');
      for (const member of members) member.on('revoked', (partitions) => revoked.push(...partitions));
      const incarnations = members.map((m) => m.incarnation);
      const stop = new AbortController();
      let ended: unknown = 'running';
      const runs = members.map((member, index) =>
        member.run(
          async (envelope, tx) => {
            const key = `done/${new TextDecoder().decode(envelope.payload)}`;
            tx.cas(key, (await memberStores[index]!.readValue(key)) ?? 0, 1);
          },
          { signal: stop.signal },
        ),
      );
      void Promise.all(runs).then(
        () => (ended = 'resolved'),
        (error: unknown) => (ended = error),
      );
      const done = async (jobs: number) => {
        for (let i = jobs - 1; i >= 0; i--) if ((await publisherStore.readValue(`done/job-${i}`)) !== 1) return false;
        return true;
      };
      await publish(publisher, 0, 100);
      await until(() => done(100), 'the first 100 jobs');

      const publishing = publish(publisher, 100, 300);
      await cluster.restart();
      await publishing;
      await until(() => done(300), 'every job, after the restart');

      expect(ended).toBe('running'); // run neither resolved nor rejected: the members worked through it
      expect(failed.map((error) => String(error.cause))).toEqual([]);
      expect(lost).toEqual([]);
      expect(members.map((m) => m.incarnation)).toEqual(incarnations);
      expect(revoked).toEqual([]);
      const info = await readGroup(publisherStore, (await readChannel(publisherStore, 'work'))!, 'jobs');
      expect(info.members.map((m) => m.incarnation)).toEqual(incarnations);
      for (let i = 0; i < 300; i++) expect(await publisherStore.readValue(`done/job-${i}`)).toBe(1);
      stop.abort();
      await Promise.all(runs);
    } finally {
      await Promise.all(members.map((m) => m.leave().catch(() => undefined)));
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 180_000);
});
