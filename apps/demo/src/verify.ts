import { codec, ConsumerCursor, DurableChannel, DurableConversation } from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { ledgerKey, readLedger, type LedgerEntry } from './ledger.js';
import type { Run } from './manifest.js';
import { decodeOrder, makeOrder } from './orders.js';
import { planSteps } from './saga.js';

/** What reading the run's ledger back found. `lost` and `duplicated` must be 0. */
export interface VerifyReport {
  readonly run: number;
  readonly orders: number;
  /** Orders whose conversation finished. */
  readonly completed: number;
  /** Orders not finished yet (an interrupted run); not an error by themselves. */
  readonly pending: number;
  readonly fulfilled: number;
  readonly compensated: number;
  readonly sideEffects: number;
  readonly compensations: number;
  readonly steps: number;
  /** Expected effects missing from a finished order, or orders a cursor moved past unfinished. */
  readonly lost: number;
  /** Ledger entries beyond the one each (order, step) may have, or entries no plan asks for. */
  readonly duplicated: number;
  /** The first few problems, for people. */
  readonly problems: readonly string[];
}

export function isClean(report: VerifyReport): boolean {
  return report.lost === 0 && report.duplicated === 0;
}

/**
 * Re-derives every order from the run's seed, and checks the ledger against
 * its saga plan: each finished order has each planned effect exactly once
 * (fulfilled, or compensated in reverse), no order has an effect twice, and
 * every order behind a committed cursor is finished.
 */
export async function verifyRun(store: DurableStore, run: Run): Promise<VerifyReport> {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 10) problems.push(problem);
  };
  const byStep = new Map<string, LedgerEntry[]>();
  let sideEffects = 0;
  let compensations = 0;
  for (let p = 0; p < run.partitions; p++) {
    for await (const entry of readLedger(store, run.names.ledger(p))) {
      sideEffects += 1;
      if (entry.effect === 'payment-refunded' || entry.effect === 'stock-released') compensations += 1;
      const key = ledgerKey(entry.orderId, entry.step);
      byStep.set(key, [...(byStep.get(key) ?? []), entry]);
    }
  }

  const finished = new Set<string>();
  let lost = 0;
  const channel = new DurableChannel(store, run.names.channel, { partitions: run.partitions });
  for (let p = 0; p < run.partitions; p++) {
    const conversation = await DurableConversation.recover(store, run.names.conversation(p));
    const cursor = await ConsumerCursor.resume(store, run.names.consumerId, run.names.channel, p);
    for (let offset = 0; offset < cursor.currentOffset; ) {
      const page = await store.readFrom(channel.streamFor(p), offset, Math.min(2048, cursor.currentOffset - offset));
      if (page.length === 0) {
        lost += cursor.currentOffset - offset;
        note(`partition ${p}: the cursor is at ${cursor.currentOffset} but the partition holds only ${offset} messages`);
        break;
      }
      for (const { sequence, payload } of page) {
        const id = decodeOrder(codec.decodeAs(payload, 'channelMessage').payload).id;
        if (!conversation.state.isFullyProcessed(id)) {
          lost += 1;
          note(`partition ${p}: the cursor passed offset ${sequence} (${id}) before its order finished`);
        }
      }
      offset += page.length;
    }
    for (const progress of conversation.state.messages()) {
      if (conversation.state.isFullyProcessed(progress.messageId)) finished.add(progress.messageId);
    }
  }

  let duplicated = 0;
  let fulfilled = 0;
  let compensated = 0;
  let steps = 0;
  const planned = new Set<string>();
  for (let index = 0; index < run.messages; index++) {
    const order = makeOrder(run.seed, index);
    const plan = planSteps(order);
    const done = finished.has(order.id);
    if (done) {
      steps += plan.length;
      if (order.outcome.kind === 'fulfilled') fulfilled += 1;
      else compensated += 1;
    }
    plan.forEach((step, stepIndex) => {
      const key = ledgerKey(order.id, stepIndex);
      planned.add(key);
      const entries = byStep.get(key) ?? [];
      const expected = step.kind === 'failure' ? 0 : 1;
      if (entries.some((entry) => step.kind === 'failure' || entry.effect !== step.effect)) {
        duplicated += entries.length;
        note(`${order.id} step ${stepIndex}: ledger holds ${entries.map((e) => e.effect).join(', ')}, plan says ${step.kind === 'failure' ? 'no effect' : step.effect}`);
      } else if (entries.length > expected) {
        duplicated += entries.length - expected;
        note(`${order.id} step ${stepIndex}: ${step.kind === 'failure' ? '' : step.effect} ${entries.length} times`);
      } else if (done && entries.length < expected) {
        lost += 1;
        note(`${order.id} finished without ${step.kind === 'failure' ? '' : step.effect} (step ${stepIndex})`);
      }
    });
  }
  for (const [key, entries] of byStep) {
    if (!planned.has(key)) {
      duplicated += entries.length;
      note(`ledger entry ${key} belongs to no order of this run`);
    }
  }
  const completed = finished.size;
  return {
    run: run.run,
    orders: run.messages,
    completed,
    pending: run.messages - completed,
    fulfilled,
    compensated,
    sideEffects,
    compensations,
    steps,
    lost,
    duplicated,
    problems,
  };
}
