import type { Order } from './orders.js';

/** The participants of an order conversation, in the order they act. */
export type ParticipantKind = 'validate' | 'reserveStock' | 'charge' | 'notify';
export const participantKinds: readonly ParticipantKind[] = ['validate', 'reserveStock', 'charge', 'notify'];

/** Every side effect the ledger can hold; the last two are compensations. */
export type Effect =
  | 'order-validated'
  | 'stock-reserved'
  | 'payment-charged'
  | 'customer-notified'
  | 'payment-refunded'
  | 'stock-released';

/**
 * One durable step of an order's conversation. A `forward` step either
 * performs its effect or, for the failing participant, fails for a business
 * reason (no effect) and hands over to the compensations of the steps before it.
 */
export type Step =
  | { readonly kind: 'forward'; readonly participant: ParticipantKind; readonly effect: Effect }
  | { readonly kind: 'failure'; readonly participant: ParticipantKind; readonly reason: string }
  | { readonly kind: 'compensation'; readonly participant: ParticipantKind; readonly effect: Effect; readonly undoes: Effect };

const forwardEffects: Readonly<Record<ParticipantKind, Effect>> = {
  validate: 'order-validated',
  reserveStock: 'stock-reserved',
  charge: 'payment-charged',
  notify: 'customer-notified',
};

/**
 * The effect that undoes each participant's forward effect; it also names the
 * order conversation's compensation. Only these participants have something to
 * undo; validation has no side effect worth reversing.
 */
export const undoEffects: Partial<Readonly<Record<ParticipantKind, Effect>>> = {
  reserveStock: 'stock-released',
  charge: 'payment-refunded',
};

/**
 * The saga for one order: the forward steps up to the failing participant
 * (if any), then the compensations of the completed steps in reverse order.
 * Step indexes are positions in this list, which is what the durable
 * conversation log records, so a restarted participant resumes at
 * `nextStepIndex` with the same plan.
 */
export function planSteps(order: Order): Step[] {
  const failingAt: ParticipantKind | undefined =
    order.outcome.kind === 'paymentDeclined' ? 'charge' : order.outcome.kind === 'undeliverable' ? 'notify' : undefined;
  const steps: Step[] = [];
  for (const participant of participantKinds) {
    if (participant === failingAt) {
      steps.push({ kind: 'failure', participant, reason: failureReason(order) });
      const done = [...steps].reverse();
      for (const step of done) {
        const undo = step.kind === 'forward' ? undoEffects[step.participant] : undefined;
        if (step.kind === 'forward' && undo !== undefined) {
          steps.push({ kind: 'compensation', participant: step.participant, effect: undo, undoes: step.effect });
        }
      }
      return steps;
    }
    steps.push({ kind: 'forward', participant, effect: forwardEffects[participant] });
  }
  return steps;
}

/** The ledger entries an order must end with, each exactly once. */
export function expectedEffects(order: Order): Effect[] {
  return planSteps(order).flatMap((step) => (step.kind === 'failure' ? [] : [step.effect]));
}

function failureReason(order: Order): string {
  return order.outcome.kind === 'paymentDeclined' ? 'card declined' : 'customer address bounced';
}
