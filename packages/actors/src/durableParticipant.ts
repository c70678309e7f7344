import { InvalidArgumentError } from '@liminal/store';
import { fromPromise, type AnyStateMachine, type InputFrom } from 'xstate';
import { createDurableActor, type DurableActor, type DurableActorOptions } from './createDurableActor.js';
import type { ParticipantInput, ParticipantSpec } from './participant.js';

/** The type of the event a durable participant's machine emits to reply to the message it is processing. */
export const PARTICIPANT_REPLY = 'liminal.reply';

export interface DurableParticipantOptions<TMachine extends AnyStateMachine>
  extends Omit<DurableActorOptions<TMachine>, 'id' | 'input'> {
  /** The durable actor's id for a conversation (default: `<conversationId>/<participant id>`). */
  readonly actorId?: (conversationId: string) => string;
  /** The machine's input when the actor of a conversation is created. */
  readonly input?: (conversationId: string) => InputFrom<TMachine>;
}

/** A participant whose turns all go to one durable actor per conversation. */
export interface DurableParticipantSpec<TMachine extends AnyStateMachine> extends ParticipantSpec {
  /** The durable actor of `conversationId` (opened, or reopened from the store, on first use). */
  actorFor(conversationId: string): Promise<DurableActor<TMachine>>;
  /** Stops every actor this process opened (nothing is journaled: they resume when used again). */
  close(): Promise<void>;
}

/**
 * A long-lived participant: unlike `participant(id, logic)`, whose logic is
 * spawned afresh for every message, every message of a conversation goes to
 * the same durable actor (`createDurableActor`), which keeps its state, timers
 * and children across messages and process restarts. The message payload is
 * the event (an object with a string `type`); the reply is the `payload` of the
 * first `emit({ type: PARTICIPANT_REPLY, payload })` the machine makes while
 * processing it (none: no reply). The delivery is a named step (`deliver`), so
 * a redelivered message whose step was recorded is answered from the record.
 * The event is sent with the message id as its idempotency key, so a crash
 * after the actor journaled it but before the step was recorded does not
 * apply it twice: the redelivery finds the key journaled and the actor is
 * left alone (that delivery then has no reply, since the reply was emitted in
 * the process that died). Every delivered event also carries `messageId`.
 */
export function durableParticipant<TMachine extends AnyStateMachine>(
  id: string,
  machine: TMachine,
  options: DurableParticipantOptions<TMachine>,
): DurableParticipantSpec<TMachine> {
  const { actorId = (conversationId: string) => `${conversationId}/${id}`, input, ...actorOptions } = options;
  const actors = new Map<string, Promise<DurableActor<TMachine>>>();
  const actorFor = (conversationId: string): Promise<DurableActor<TMachine>> => {
    let actor = actors.get(conversationId);
    if (actor === undefined) {
      actor = createDurableActor(machine, { ...actorOptions, id: actorId(conversationId), ...(input === undefined ? {} : { input: input(conversationId) }) });
      actors.set(conversationId, actor);
      actor.catch(() => actors.delete(conversationId));
    }
    return actor;
  };
  const logic = fromPromise<unknown, ParticipantInput>(async ({ input: turn }) => {
    const payload = turn.payload as { type?: unknown } | null;
    if (typeof payload !== 'object' || payload === null || typeof payload.type !== 'string') {
      throw new InvalidArgumentError('payload', `a durable participant receives events: an object with a string type, got ${JSON.stringify(payload)}`);
    }
    const actor = await actorFor(turn.conversationId);
    const delivered = await turn.steps.step('deliver', async () => {
      let reply: { payload: unknown } | undefined;
      const subscription = actor.on(PARTICIPANT_REPLY, (event) => {
        reply ??= { payload: (event as { payload?: unknown }).payload };
      });
      try {
        await actor.send({ ...payload, messageId: turn.envelope.id } as never, { idempotencyKey: turn.envelope.id });
      } finally {
        subscription.unsubscribe();
      }
      return reply ?? null;
    });
    return delivered === null ? undefined : delivered.payload;
  });
  return {
    id,
    logic,
    actorFor,
    close: async () => {
      const open = [...actors.values()];
      actors.clear();
      await Promise.all(open.map(async (actor) => (await actor.catch(() => undefined))?.stop()));
    },
  };
}
