import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createSupervisor, DurableSteps } from '@liminal/actors';
import type { ChannelMetrics } from '@liminal/channels';
import { DedupCache, type MessageHandler } from '@liminal/durability';
import { LiminalError, type DurableStore, type WriteOp } from '@liminal/store';
import { encodeLedgerEntry, ledgerKey } from './ledger.js';
import type { Run } from './manifest.js';
import { decodeOrder, type Order } from './orders.js';
import { seededRandom, type Random } from './prng.js';
import { runOrderConversation, type OrderConversationContext } from './orderConversation.js';
import { participantKinds, type ParticipantKind, type Step } from './saga.js';
import type { WorkerStats } from './stats.js';
import { ParticipantCrash, participantSupervision } from './supervision.js';
import { createActor, fromPromise } from 'xstate';

export interface GroupJob {
  readonly store: DurableStore;
  readonly run: Run;
  readonly crashRate: number;
  readonly stats: WorkerStats;
  /** How many times the supervisor has started this member's run before (varies the crash schedule). */
  readonly incarnation: number;
  /** Conversation phases and step latencies go here when set. */
  readonly metrics?: ChannelMetrics | undefined;
  /** Clock of the participant supervisors' restart windows (epoch ms); default `Date.now`. */
  readonly restartClock?: (() => number) | undefined;
}

/** A claim on an effect outlives any one step attempt. */
const effectLeaseMs = 30_000;

/** Where a partition's participants apply their side effects, exactly once each (`DedupCache.runOnce`). */
interface Effects {
  readonly dedup: DedupCache;
  readonly ledger: string;
  readonly claim: { readonly owner: string; readonly leaseMs: number };
}

/** What a worker needs to process one partition's orders; opened when the partition is won. */
interface PartitionContext {
  readonly steps: DurableSteps;
  /**
   * The order conversations' context for one handler call: their effects commit
   * under `fence`, the call's `tx.conditions` (the partition's lease check), so a
   * worker that lost the partition claims and writes no effect.
   */
  readonly orders: (fence: readonly WriteOp[]) => OrderConversationContext;
  readonly participants: Participants;
}

/**
 * The group member's message handler: each order is processed in its
 * partition's context (its log of finished orders, its effect ledger, its
 * participants), opened from the durable logs the first time the member sees
 * the partition and forgotten when the partition is revoked, so a partition
 * won back later is recovered afresh from what its other owners wrote.
 */
export function orderHandler(job: GroupJob): {
  readonly handle: MessageHandler;
  readonly forget: (partitions: readonly number[]) => void;
  readonly close: () => void;
} {
  const contexts = new Map<number, Promise<PartitionContext>>();
  const open = async (partition: number): Promise<PartitionContext> => {
    const { store, run, metrics, stats } = job;
    const names = run.names;
    const steps = await DurableSteps.open(store, names.conversation(partition));
    const effects: Effects = {
      dedup: new DedupCache(store, names.dedupNamespace),
      ledger: names.ledger(partition),
      // One owner name per partition, whichever worker holds it: the worker that takes a partition over (after a
      // crash or a rebalance) reclaims the unfinished effects at once. The claims' fences keep each effect once,
      // and the lease check committed with every claim and effect keeps a worker that lost the partition out.
      claim: { owner: `partition-${partition}`, leaseMs: effectLeaseMs },
    };
    const participants = new Participants(job, effects, seededRandom(run.seed, partition, job.incarnation));
    const orders = (fence: readonly WriteOp[]): OrderConversationContext => ({
      store,
      conversationId: (orderId) => names.orderConversation(orderId),
      perform: (order, index, step) => participants.perform(order, index, step, fence),
      ...(metrics === undefined ? {} : { onStep: metrics.onStep, trackPhases: (actor) => metrics.trackPhases(actor) }),
      ran: (what) => void (what === 'step' ? (stats.steps += 1) : (stats.compensationsRun += 1)),
    });
    return { steps, orders, participants };
  };
  return {
    handle: async (envelope, tx) => {
      let context = contexts.get(envelope.partition);
      if (context === undefined) {
        context = open(envelope.partition);
        contexts.set(envelope.partition, context);
        context.catch(() => contexts.delete(envelope.partition));
      }
      const { steps, orders } = await context;
      // SQLite calls complete synchronously, so without this a partition would run as one chain
      // of microtasks, starving timers and IPC (progress reports, the coordinator's stop).
      await yieldToEventLoop();
      await processOrder(decodeOrder(envelope.payload), steps, orders(tx.conditions), job.stats);
    },
    forget: (partitions) => {
      for (const partition of partitions) {
        void contexts.get(partition)?.then((context) => context.participants.stop(), () => undefined);
        contexts.delete(partition);
      }
    },
    close: () => {
      for (const context of contexts.values()) void context.then((opened) => opened.participants.stop(), () => undefined);
      contexts.clear();
    },
  };
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

/** Another process holds one of this partition's effects (it cannot with one owner name per partition). */
export class EffectInFlightError extends LiminalError {
  readonly code = 'EFFECT_IN_FLIGHT';
}

/** One step a participant is asked to perform, until it succeeds or fails with something other than a crash. */
interface StepRequest {
  readonly order: Order;
  readonly index: number;
  readonly step: Step;
  /** The handler call's lease check, under which the step's effect commits. */
  readonly fence: readonly WriteOp[];
  readonly settle: (outcome: { readonly kind: 'done'; readonly effect: string } | { readonly kind: 'failed'; readonly error: unknown }) => void;
}

/**
 * The participants of one partition, each an XState actor under a one-for-one
 * `createSupervisor`: a crashed participant is restarted (and only it), and its
 * new incarnation retries the step it crashed in; more than `intensity`
 * restarts per `periodMs` make the supervisor fail with
 * `SupervisorEscalationError`, which the waiting steps reject with, so the
 * partition's own supervisor restarts the partition.
 */
class Participants {
  /** Steps waiting for each participant, oldest first; the head is the one being attempted. */
  readonly #queues = new Map<ParticipantKind, StepRequest[]>(participantKinds.map((kind) => [kind, []]));
  readonly #wakeups = new Map<ParticipantKind, () => void>();
  readonly #supervisor;
  #escalation: unknown;

  constructor(
    readonly job: GroupJob,
    readonly effects: Effects,
    readonly random: Random,
  ) {
    this.#supervisor = createActor(
      createSupervisor({
        ...participantSupervision,
        ...(job.restartClock === undefined ? {} : { now: job.restartClock }),
        children: participantKinds.map((kind) => ({ id: kind, logic: this.#participant(kind) })),
      }),
      { id: 'participant supervisor' },
    );
    this.#supervisor.on('supervisor.crash', ({ child }) => {
      this.job.stats.participantRestarts += 1;
      this.job.stats.restartsByParticipant[child as ParticipantKind] += 1;
    });
    this.#supervisor.subscribe({
      error: (error) => {
        this.#escalation = error;
        for (const queue of this.#queues.values()) for (const request of queue.splice(0)) request.settle({ kind: 'failed', error });
      },
    });
    this.#supervisor.start();
  }

  perform(order: Order, index: number, step: Step, fence: readonly WriteOp[]): Promise<string> {
    if (this.#escalation !== undefined) return Promise.reject(this.#escalation);
    return new Promise((resolve, reject) => {
      this.#queues.get(step.participant)!.push({ order, index, step, fence, settle: (outcome) => (outcome.kind === 'done' ? resolve(outcome.effect) : reject(outcome.error)) });
      this.#wakeups.get(step.participant)?.();
    });
  }

  /** Stops the participants' actors (the partition was revoked or the run ended). */
  stop(): void {
    this.#supervisor.stop();
  }

  /** A participant's actor: attempts its queued steps in order; a `ParticipantCrash` fails the actor, leaving the step queued for the restarted one. */
  #participant(kind: ParticipantKind) {
    return fromPromise<void>(async ({ signal }) => {
      const queue = this.#queues.get(kind)!;
      for (;;) {
        const request = queue[0] ?? (await this.#nextRequest(kind, signal));
        if (request === undefined) return;
        let outcome: Parameters<StepRequest['settle']>[0];
        try {
          outcome = { kind: 'done', effect: await this.#attempt(request.order, request.index, request.step, request.fence) };
        } catch (error) {
          if (error instanceof ParticipantCrash) throw error;
          outcome = { kind: 'failed', error };
        }
        if (signal.aborted) return;
        queue.shift();
        request.settle(outcome);
      }
    });
  }

  /** The next step queued for `kind`, or undefined once the actor is stopped. */
  #nextRequest(kind: ParticipantKind, signal: AbortSignal): Promise<StepRequest | undefined> {
    return new Promise((resolve) => {
      const wake = () => {
        if (this.#wakeups.get(kind) === wake) this.#wakeups.delete(kind);
        signal.removeEventListener('abort', wake);
        resolve(this.#queues.get(kind)![0]);
      };
      this.#wakeups.set(kind, wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  async #attempt(order: Order, index: number, step: Step, fence: readonly WriteOp[]): Promise<string> {
    this.#maybeCrash(step.participant, 'beforeEffect');
    if (step.kind === 'failure') return `failed: ${step.reason}`;
    const { dedup, ledger, claim } = this.effects;
    const key = ledgerKey(order.id, index);
    const entry = { orderId: order.id, step: index, effect: step.effect, amountCents: order.amountCents };
    // The ledger append, its receipt and the partition's lease check are one commit: a crash before it leaves
    // nothing, a crash after it makes the retry a duplicate, and a worker that lost the partition writes nothing.
    // That lease check is also why the effect takes no claim first (`exclusive`): only the partition's holder runs
    // its effects, so one commit per effect, not a claim commit and then that one.
    const outcome = await dedup.runOnce(
      key,
      Date.now(),
      claim,
      (tx) => {
        tx.append(ledger, encodeLedgerEntry(entry));
        this.#maybeCrash(step.participant, 'afterEffect');
      },
      { conditions: fence, exclusive: true },
    );
    if (outcome.kind === 'inFlight') throw new EffectInFlightError(`effect ${key} is claimed by ${outcome.owner} until ${outcome.expiresAtMs}`);
    if (outcome.kind === 'duplicate') this.job.stats.duplicatesSuppressed += 1;
    this.#maybeCrash(step.participant, 'afterEffect');
    return `ledger:${key}`;
  }

  // The crash rate is per step attempt, spread over the moments around the side effect.
  #maybeCrash(participant: ParticipantKind, moment: 'beforeEffect' | 'afterEffect'): void {
    if (this.random() < this.job.crashRate / 3) {
      this.job.stats.crashesInjected += 1;
      throw new ParticipantCrash(participant, moment);
    }
  }
}
