import { DurableConversation } from '@liminal/durability';
import { openStore, type DurableStore, type StoredEntry, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listConversations, type ConversationPage } from '../src/index.js';
import { UsageError } from '../src/errors.js';

// CI size, in memory; LIMINAL_CLI_CONVERSATIONS=100000 LIMINAL_CLI_STORE=sqlite:/tmp/x.db is the manual paging run the package README reports.
const total = Number(process.env['LIMINAL_CLI_CONVERSATIONS'] ?? 2000);
const storeUrl = process.env['LIMINAL_CLI_STORE'] ?? 'memory:';
const t0 = Date.parse('2026-01-01T00:00:00Z');
const idOf = (i: number) => `order/${String(i).padStart(6, '0')}`;
// Every 10th failed, every 100th left in flight (a message received, never finished) at t0, the rest closed.
const failed = (i: number) => i % 10 === 3;
const inFlight = (i: number) => i % 100 === 7;

/** Counts reads of conversation journals (streams named by the id): the listing must never need one. */
class CountingStore extends ForwardingStore {
  journalReads = 0;

  override readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    if (stream.startsWith('order/')) this.journalReads += 1;
    return super.readFrom(stream, fromSeq, limit);
  }
}

async function fill(store: DurableStore): Promise<void> {
  for (let i = 0; i < total; i++) {
    const conversation = DurableConversation.create(store, idOf(i), { index: true, now: () => t0 + i });
    await conversation.recordLifecycle({ kind: 'conversationCreated', version: 'v1', createdAt: t0 + i });
    await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'active', at: t0 + i });
    if (inFlight(i)) {
      await conversation.recordMessageReceived('m1', t0 + i);
      // Half of them closing: --stuck merges the active and completing entries in id order.
      if (i % 200 === 107) await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'completing', at: t0 + i });
    }
    else if (failed(i)) await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'failed', at: t0 + i, failure: 'participantCrashed', cause: 'billing' });
    else await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'closed', at: t0 + i });
  }
}

/** Every stream and counter of `from`, written to `to` a few thousand ops per commit. */
async function copyInto(from: DurableStore, to: DurableStore): Promise<void> {
  let ops: WriteOp[] = [];
  const flush = async () => {
    if (ops.length > 0) await to.commit(ops);
    ops = [];
  };
  for (const stream of await from.listStreams('')) {
    const entries = await from.readFrom(stream, 0, 1_000_000);
    ops.push({ op: 'append', stream, payloads: entries.map((entry) => entry.payload), expectedSeq: 0 });
    if (ops.length >= 5_000) await flush();
  }
  for (const { key, value } of await from.listValues('')) {
    ops.push({ op: 'cas', key, expected: 0, next: value });
    if (ops.length >= 5_000) await flush();
  }
  await flush();
}

describe(`liminal conversations pages the conversation index (${total} conversations)`, () => {
  let store: CountingStore;
  const now = t0 + 3_600_000;

  beforeAll(async () => {
    store = new CountingStore(await openStore(storeUrl));
    const started = performance.now();
    if (storeUrl === 'memory:') await fill(store);
    else {
      // The manual run: written by DurableConversation in memory (index included), then copied over in large commits.
      const memory = await openStore('memory:');
      await fill(memory);
      await copyInto(memory, store);
    }
    if (total > 2000) process.stdout.write(`filled ${total} conversations in ${Math.round(performance.now() - started)} ms\n`);
  }, 1_200_000);

  afterAll(() => store.close());

  async function walk(filter: Parameters<typeof listConversations>[1], limit: number): Promise<{ ids: string[]; pages: ConversationPage[] }> {
    const ids: string[] = [];
    const pages: ConversationPage[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await listConversations(store, filter, { limit, ...(after === undefined ? {} : { after }) }, now);
      pages.push(page);
      ids.push(...page.rows.map((row) => row.id));
      if (page.next === undefined) return { ids, pages };
      after = page.next;
    }
  }

  it('every page holds exactly its limit, read from the index only: no journal is read, each page scans only its rows', async () => {
    store.journalReads = 0;
    const started = performance.now();
    const { ids, pages } = await walk({}, 100);
    const elapsed = performance.now() - started;
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => idOf(i)));
    expect(pages.slice(0, -1).every((page) => page.rows.length === 100 && page.scanned === 100)).toBe(true);
    expect(store.journalReads).toBe(0);
    if (total > 2000) process.stdout.write(`paged ${total} in ${pages.length} pages of 100: ${Math.round(elapsed)} ms, ${(elapsed / pages.length).toFixed(2)} ms/page\n`);
  }, 600_000);

  it('a row says what the index says: phase, version, age, idle time, steps, failure', async () => {
    const page = await listConversations(store, {}, { limit: 4 }, now);
    expect(page.rows[3]).toEqual({ id: idOf(3), phase: 'failed', version: 'v1', inFlight: false, failure: 'participantCrashed: billing', createdAt: t0 + 3, ageMs: now - t0 - 3, lastActivityAt: t0 + 3, idleMs: now - t0 - 3, steps: 0 });
    expect(page.next).toBe(idOf(3));
  });

  it('--failed and --phase list one phase from its own index entries; --prefix narrows by id', async () => {
    store.journalReads = 0;
    const started = performance.now();
    const onlyFailed = await walk({ failed: true }, 50);
    if (total > 2000) process.stdout.write(`--failed over ${total}: ${onlyFailed.ids.length} in ${onlyFailed.pages.length} pages of 50, ${Math.round(performance.now() - started)} ms\n`);
    const expected = Array.from({ length: total }, (_, i) => i).filter((i) => failed(i) && !inFlight(i)).map(idOf);
    expect(onlyFailed.ids).toEqual(expected);
    expect(onlyFailed.pages.every((page) => page.scanned === page.rows.length)).toBe(true);
    expect((await walk({ phase: 'failed' }, 1000)).ids).toEqual(expected);
    expect((await walk({ prefix: 'order/0000' }, 1000)).ids).toEqual(Array.from({ length: Math.min(total, 100) }, (_, i) => idOf(i)));
    expect(store.journalReads).toBe(0);
  }, 600_000);

  it('--stuck scans only the phases a conversation can be in flight in, merged in id order across pages', async () => {
    store.journalReads = 0;
    const started = performance.now();
    const stuck = await walk({ stuckMs: 60_000 }, 7);
    if (total > 2000) process.stdout.write(`--stuck over ${total}: ${stuck.ids.length} found in ${stuck.pages.length} pages, ${Math.round(performance.now() - started)} ms\n`);
    expect(stuck.ids).toEqual(Array.from({ length: total }, (_, i) => i).filter(inFlight).map(idOf));
    // Closed and failed conversations are not even looked at.
    expect(stuck.pages.reduce((sum, page) => sum + page.scanned, 0)).toBe(stuck.ids.length);
    expect(store.journalReads).toBe(0);
    const notYet = await listConversations(store, { stuckMs: 2 * 3_600_000 }, { limit: 10 }, now);
    expect(notYet.rows).toEqual([]);
  }, 600_000);

  it('an unknown phase, or --failed with another phase, is a UsageError', async () => {
    await expect(listConversations(store, { phase: 'stuck' }, { limit: 10 }, now)).rejects.toBeInstanceOf(UsageError);
    await expect(listConversations(store, { phase: 'closed', failed: true }, { limit: 10 }, now)).rejects.toBeInstanceOf(UsageError);
  });
});
