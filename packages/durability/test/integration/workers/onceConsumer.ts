// One consumer process of partition 0 of channel `orders` (consumer id `billing`), for exactlyOnceProcesses.test.ts.
// Args: <store url> <owner> <JSON settings>. Each message's effect is one `tx.append('effects', messageId)`.
// It stops once the stored cursor reaches `total`, then prints its counts as one JSON line. With `kill`, it
// SIGKILLs itself at that point of the message at offset `kill.offset`.
import { setTimeout as sleep } from 'node:timers/promises';
import { CasConflictError, openStore, type CommitResult, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { ClaimLostError, DurableChannel, type ChannelConsumer } from '../../../src/index.js';

interface Settings {
  readonly total: number;
  /** Start together: wait until this many processes have checked in (counter `ready`). */
  readonly processes?: number;
  readonly leaseMs: number;
  /** Messages whose offset % slowEvery === slowRemainder are handled slowly (3 × leaseMs) by this process. */
  readonly slowEvery?: number;
  readonly slowRemainder?: number;
  readonly kill?: { readonly offset: number; readonly at: 'beforeHandler' | 'insideHandler' | 'atCommit' | 'afterCommit' };
}

const [url, owner, json] = process.argv.slice(2) as [string, string, string];
const settings = JSON.parse(json) as Settings;
const die = () => process.kill(process.pid, 'SIGKILL');

/** Kills the process right before, or right after, the commit that holds the target message's effect. */
class KillingStore extends ForwardingStore {
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const kill = settings.kill;
    const target = kill !== undefined && ops.some((op) => op.op === 'append' && op.stream === 'effects' && new TextDecoder().decode(op.payloads[0]).endsWith(`@${kill.offset}`));
    if (target && kill.at === 'atCommit') die();
    const result = await super.commit(ops);
    if (target && kill.at === 'afterCommit') die();
    return result;
  }
}

const store = new KillingStore(await openStore(url));
const channel = new DurableChannel(store, 'orders', { partitions: 1 });
const counts = { processed: 0, duplicate: 0, inFlight: 0, claimLost: 0 };
if (settings.processes !== undefined) {
  // Check in, then wait for the others, so that the processes really compete (a slow start must not let one do it all).
  for (;;) {
    const ready = (await store.readValue('ready')) ?? 0;
    try {
      await store.cas('ready', ready, ready + 1);
      break;
    } catch (error) {
      if (!(error instanceof CasConflictError)) throw error; // another process checked in first: read again
    }
  }
  while (((await store.readValue('ready')) ?? 0) < settings.processes) await sleep(10);
}
let consumer: ChannelConsumer = await channel.consume('billing', 0, { owner, leaseMs: settings.leaseMs, batchSize: 32 });

while ((await consumer.cursor.refresh()) < settings.total) {
  const batch = await consumer.poll();
  if (batch.length === 0) {
    // Everything polled, but the shared cursor is behind (another process still holds a message, or it
    // finished messages this one skipped): read again from the stored cursor; done ones come back as duplicates.
    await sleep(10);
    consumer = await channel.consume('billing', 0, { owner, leaseMs: settings.leaseMs, batchSize: 32 });
    continue;
  }
  let waitUntil = 0;
  for (const envelope of batch) {
    if (settings.kill?.offset === envelope.offset && settings.kill.at === 'beforeHandler') die();
    try {
      const outcome = await consumer.processOnce(envelope, async (e, tx) => {
        tx.append('effects', new TextEncoder().encode(`${e.messageId}@${e.offset}`));
        if (settings.slowEvery !== undefined && e.offset % settings.slowEvery === settings.slowRemainder) await sleep(settings.leaseMs * 3);
        if (settings.kill?.offset === e.offset && settings.kill.at === 'insideHandler') die();
      });
      counts[outcome.kind] += 1;
      if (outcome.kind === 'inFlight') waitUntil = Math.max(waitUntil, outcome.expiresAtMs);
    } catch (error) {
      if (!(error instanceof ClaimLostError)) throw error;
      counts.claimLost += 1; // outlived the lease and was taken over: nothing of ours was written
    }
  }
  if (waitUntil > Date.now()) await sleep(Math.min(waitUntil - Date.now(), settings.leaseMs) + 1);
}
console.log(JSON.stringify({ owner, ...counts }));
await store.close();
