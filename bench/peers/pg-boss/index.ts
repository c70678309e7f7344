/**
 * pg-boss (12.38.0): a PostgreSQL job queue; workers fetch with
 * `SELECT ... FOR UPDATE SKIP LOCKED` and, on a queue created with
 * `notify: true`, are woken by LISTEN/NOTIFY. Everything lives in the schema
 * given, so a run never touches another schema.
 */
import { PgBoss } from 'pg-boss';

export const pgBossVersion = '12.38.0';
export const pgBossQueue = 'bench';

/** A started pg-boss on `schema` (created with its tables on first start) with the one queue. */
export async function startPgBoss(connectionString: string, schema: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString, schema, supervise: false, schedule: false, useListenNotify: true });
  boss.on('error', () => undefined);
  await boss.start();
  if ((await boss.getQueue(pgBossQueue)) === null) await boss.createQueue(pgBossQueue, { notify: true });
  return boss;
}

/**
 * `localConcurrency` workers, each fetching up to `batchSize` jobs at a time
 * and fetching again at once while batches come back full
 * (`burstWhenBatchFull`; otherwise a worker waits its polling interval
 * between fetches, even with jobs queued), running `handle` for each job.
 */
export async function pgBossWork(boss: PgBoss, localConcurrency: number, batchSize: number, handle: (data: unknown) => void): Promise<void> {
  await boss.work(pgBossQueue, { localConcurrency, batchSize, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    for (const job of jobs) handle(job.data);
  });
}
