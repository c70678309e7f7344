import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DurableSteps } from '@liminal/actors';
import type { ChannelMetrics } from '@liminal/channels';
import { DedupCache, DurableChannel, type ChannelConsumer } from '@liminal/durability';
import { CasConflictError, LiminalError, type DurableStore } from '@liminal/store';
import { EffectLedger } from './effectLedger.js';
import type { Run } from './manifest.js';
import { decodeOrder, type Order } from './orders.js';
import { isOutage, sleep } from './outage.js';
import { seededRandom, type Random } from './prng.js';
import { runOrderConversation, type OrderConversationContext } from './orderConversation.js';
import type { ParticipantKind, Step } from './saga.js';
import type { WorkerStats } from './stats.js';
import { ParticipantCrash, participantSupervision, RestartBudget } from './supervision.js';

export interface PartitionJob {
  readonly store: DurableStore;
  readonly run: Run;
  readonly partition: number;
  readonly crashRate: number;
  readonly stats: WorkerStats;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** How many times the supervisor has started this partition's actor before (varies the crash schedule). */
  readonly incarnation: number;
  /** Conversation phases and step latencies go here when set. */
  readonly metrics?: ChannelMetrics | undefined;
}

/** How a partition's driver ended. */
export type PartitionEnd = 'drained' | 'stopped' | 'fenced';

/** Another process claimed the partition (a newer fencing epoch); this one must stop touching it. */
export class OwnershipLostError extends LiminalError {
  readonly code = 'OWNERSHIP_LOST';
}

const idlePollMs = 50;

/**
 * Drives one partition until every order in it is processed, as the body of
 * an XState actor supervised by `supervisePartitions`
 * (partitionSupervisor.ts): any crash that escapes (a participant supervisor giving
 * up, a decode error, a fenced write) fails the actor and the supervisor
 * restarts it, recovering from the durable logs. A store outage (e.g. a
 * PostgreSQL restart) is waited out with backoff instead, so the worker
 * reconnects rather than dying.
 */
export async function drivePartition(job: PartitionJob): Promise<PartitionEnd> {
  let outageMs = 0;
  for (let incarnation = job.incarnation * 1_000; ; incarnation++) {
    try {
      return await runOwnedPartition(job, incarnation);
    } catch (error) {
      if (job.signal.aborted) return 'stopped';
      if (error instanceof OwnershipLostError) return 'fenced';
      if (!isOutage(error)) throw error;
      if (outageMs === 0) job.log(`partition ${job.partition}: store unavailable, reconnecting (${describe(error)})`);
      job.stats.storeOutages += outageMs === 0 ? 1 : 0;
      outageMs = Math.min(2_000, Math.max(100, outageMs * 2));
      await sleep(outageMs, job.signal);
    }
  }
}

async function runOwnedPartition(job: PartitionJob, incarnation: number): Promise<PartitionEnd> {
  const { store, run, partition, signal } = job;
  const names = run.names;
  const epoch = await claimOwnership(store, names.ownerEpoch(partition));
  const channel = new DurableChannel(store, names.channel, { partitions: run.partitions });
  const consumer = await channel.consume(names.consumerId, partition, { batchSize: 16 });
  const steps = await DurableSteps.open(store, names.conversation(partition));
  const ledger = await EffectLedger.open(store, names.ledger(partition), new DedupCache(store, names.dedupNamespace));
  const participants = new Participants(job, ledger, seededRandom(run.seed, partition, incarnation));
  const { metrics, stats } = job;
  const orders: OrderConversationContext = {
    store,
    conversationId: (orderId) => names.orderConversation(orderId),
    perform: (order, index, step) => participants.perform(order, index, step),
    ...(metrics === undefined ? {} : { onStep: metrics.onStep, trackPhases: (actor) => metrics.trackPhases(actor) }),
    ran: (what) => void (what === 'step' ? (stats.steps += 1) : (stats.compensationsRun += 1)),
  };
  for (;;) {
    if (signal.aborted) return 'stopped';
    const batch = await consumer.poll();
    if (batch.length === 0) {
      if (await isDrained(store, run, channel, consumer)) return 'drained';
      await sleep(idlePollMs, signal);
      continue;
    }
    await assertOwner(store, names.ownerEpoch(partition), epoch);
    // SQLite calls complete synchronously, so without this the whole partition would run as one chain
    // of microtasks, starving timers and IPC (progress reports, the coordinator's stop).
    await yieldToEventLoop();
    for (const envelope of batch) {
      if (signal.aborted) return 'stopped';
      await processOrder(decodeOrder(envelope.payload), steps, orders, job.stats);
      await consumer.commit(envelope);
    }
  }
}

/**
 * One order, recorded in the partition's log through `DurableSteps`: an order
 * that finished (fulfilled or compensated) is skipped on redelivery; otherwise
 * its @liminal/actors conversation runs (or resumes from its own log), and the
 * order is recorded finished once the conversation ended. That record is what
 * `verify` reads, and what lets the consumer cursor move past the order.
 */
async function processOrder(order: Order, steps: DurableSteps, orders: OrderConversationContext, stats: WorkerStats): Promise<void> {
  const outcome = await steps.run(order.id, () => runOrderConversation(orders, order));
  if (outcome.kind === 'skipped') stats.redeliveriesSkipped += 1;
  else stats.processed += 1;
}

/**
 * The participants of one partition under a one-for-one supervisor: a crashed
 * participant is restarted (a fresh attempt at the same step) and only it;
 * more than `intensity` restarts per `periodMs` escalate to the partition.
 */
class Participants {
  readonly #budget = new RestartBudget('participant supervisor', participantSupervision);

  constructor(
    readonly job: PartitionJob,
    readonly ledger: EffectLedger,
    readonly random: Random,
  ) {}

  async perform(order: Order, index: number, step: Step): Promise<string> {
    for (;;) {
      try {
        return await this.#attempt(order, index, step);
      } catch (error) {
        if (!(error instanceof ParticipantCrash)) throw error;
        this.job.stats.participantRestarts += 1;
        this.job.stats.restartsByParticipant[step.participant] += 1;
        this.#budget.restart();
      }
    }
  }

  async #attempt(order: Order, index: number, step: Step): Promise<string> {
    this.#maybeCrash(step.participant, 'beforeEffect');
    if (step.kind === 'failure') return `failed: ${step.reason}`;
    const outcome = await this.ledger.applyOnce(
      { orderId: order.id, step: index, effect: step.effect, amountCents: order.amountCents },
      () => this.#maybeCrash(step.participant, 'afterEffect'),
    );
    if (outcome.kind === 'duplicate') this.job.stats.duplicatesSuppressed += 1;
    this.#maybeCrash(step.participant, 'afterEffect');
    return `ledger#${outcome.sequence}`;
  }

  // The crash rate is per step attempt, spread over the moments around the side effect.
  #maybeCrash(participant: ParticipantKind, moment: 'beforeEffect' | 'afterEffect'): void {
    if (this.random() < this.job.crashRate / 3) {
      this.job.stats.crashesInjected += 1;
      throw new ParticipantCrash(participant, moment);
    }
  }
}

/** Takes the partition by bumping its fencing epoch; the previous owner notices at its next batch. */
async function claimOwnership(store: DurableStore, key: string): Promise<number> {
  for (;;) {
    const current = (await store.readValue(key)) ?? 0;
    try {
      await store.cas(key, current, current + 1);
      return current + 1;
    } catch (error) {
      if (!(error instanceof CasConflictError)) throw error;
    }
  }
}

async function assertOwner(store: DurableStore, key: string, epoch: number): Promise<void> {
  const current = await store.readValue(key);
  if (current !== epoch) throw new OwnershipLostError(`partition owner epoch is ${String(current)}, this worker holds ${epoch}`);
}

/** Everything published, and this consumer has read and committed all of it. */
async function isDrained(store: DurableStore, run: Run, channel: DurableChannel, consumer: ChannelConsumer): Promise<boolean> {
  const published = (await store.readValue(run.names.published)) ?? 0;
  if (published < run.messages) return false;
  return consumer.cursor.currentOffset >= (await store.streamLength(channel.streamFor(consumer.partition)));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
}
