import {
  ConversationFailedError,
  openConversation,
  participant,
  type CompensationRegistry,
  type ConversationHandle,
  type ParticipantInput,
  type StepObserver,
} from '@liminal/actors';
import { errorMessage, LiminalError, type DurableStore } from '@liminal/store';
import { fromPromise } from 'xstate';
import type { Order } from './orders.js';
import { participantKinds, planSteps, undoEffects, type Effect, type ParticipantKind, type Step } from './saga.js';

/** A participant's step, run under the demo's participant supervisor (retries injected crashes). */
export type PerformStep = (order: Order, index: number, step: Step) => Promise<string>;

export interface OrderConversationContext {
  readonly store: DurableStore;
  /** The conversation id (and durable stream) of an order. */
  readonly conversationId: (orderId: string) => string;
  readonly perform: PerformStep;
  /** Told about every participant step (latency metrics). */
  readonly onStep?: StepObserver;
  /** Follows the conversation's phases (metrics); returns how to stop following. */
  readonly trackPhases?: (actor: ConversationHandle['actor']) => () => void;
  /** A participant step or a compensation ran (not replayed from the log). */
  readonly ran: (what: 'step' | 'compensation') => void;
}

/** The order's business failure (card declined, address bounced): the conversation's `compensate` policy undoes the order. */
export class OrderRejected extends LiminalError {
  readonly code = 'ORDER_REJECTED';
}

/**
 * A participant or a compensation could not go on for a reason that is not the
 * order's (its supervisor gave up, the store failed, ...). The order must not
 * be compensated for that: the partition crashes instead and its supervisor
 * restarts it, and the reopened conversation resumes from its log.
 */
export class OrderEscalation extends LiminalError {
  readonly code = 'ORDER_ESCALATED';
}

/**
 * One order as a durable @liminal/actors conversation: its four participants
 * (`validate`, `reserveStock`, `charge`, `notify`) are asked in turn, one
 * message each, and every side effect is a durable step. The participant that
 * fails the order for a business reason crashes its turn, and the
 * conversation's `compensate` policy runs the journaled compensations
 * (`payment-refunded`, `stock-released`) newest first. Reopening the
 * conversation (after a partition restart, in a new process) resumes: finished
 * messages are answered from the log, a started compensation run continues.
 */
export async function runOrderConversation(context: OrderConversationContext, order: Order): Promise<'fulfilled' | 'compensated'> {
  const plan = planSteps(order);
  let escalate: (error: unknown) => void = () => {};
  const escalated = new Promise<never>((_, reject) => (escalate = reject));
  escalated.catch(() => {});

  /**
   * Runs `work`; anything but `OrderRejected` escalates and never settles, so
   * the conversation neither records it nor compensates for it (the actor is
   * stopped right after).
   */
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof OrderRejected) throw error;
      escalate(new OrderEscalation(`order ${order.id}: ${errorMessage(error)}`, { cause: error }));
      return new Promise<T>(() => {});
    }
  };

  const logic = fromPromise<string, ParticipantInput<ParticipantKind>>(({ input }) =>
    guarded(async () => {
      const index = participantKinds.indexOf(input.payload);
      const step = plan[index];
      if (step === undefined) throw new OrderEscalation(`order ${order.id} has no ${input.payload} step`);
      const undo = step.kind === 'forward' ? undoEffects[step.participant] : undefined;
      const output = await input.steps.step(
        input.payload,
        async () => {
          const done = await context.perform(order, index, step);
          context.ran('step');
          return done;
        },
        undo === undefined ? {} : { compensate: undo },
      );
      if (step.kind === 'failure') throw new OrderRejected(`order ${order.id}: ${step.reason}`);
      return output;
    }),
  );

  const compensation = (effect: Effect) => () =>
    guarded(async () => {
      const index = plan.findIndex((step) => step.kind === 'compensation' && step.effect === effect);
      const step = plan[index];
      if (step === undefined) throw new OrderEscalation(`order ${order.id} plans no ${effect}`);
      await context.perform(order, index, step);
      context.ran('compensation');
    });
  const compensations: CompensationRegistry = {
    'stock-released': compensation('stock-released'),
    'payment-refunded': compensation('payment-refunded'),
  };

  const handle = await openConversation({
    id: context.conversationId(order.id),
    mode: 'durable',
    store: context.store,
    onCrash: 'compensate',
    participants: participantKinds.map((kind) => participant(kind, logic)),
    compensations,
    // Every ledger effect is guarded by dedup, so a compensation whose process died mid-way can safely run again.
    interruptedCompensations: 'runAgain',
    ...(context.onStep === undefined ? {} : { onStep: context.onStep }),
  });
  const untrack = context.trackPhases?.(handle.actor);
  try {
    // A conversation reopens in its journaled phase: an order that ended before is not run again.
    const { phase, failure } = handle.getState();
    if (phase === 'closed') return 'fulfilled';
    if (phase === 'failed' && failure?.reason === 'compensated') return 'compensated';
    // Reopened mid-order, the conversation resumes what it had received; asking again answers from its log.
    for (const kind of participantKinds) {
      await Promise.race([handle.ask(kind, { messageId: `${order.id}:${kind}` }), escalated]);
    }
    await Promise.race([handle.close(), escalated]);
    return 'fulfilled';
  } catch (error) {
    if (error instanceof ConversationFailedError && error.reason === 'compensated') return 'compensated';
    throw error;
  } finally {
    untrack?.();
    handle.actor.stop();
  }
}
