import { DurableConversation } from '@liminal/durability';
import { DecodeError, SequenceConflictError, type DurableStore } from '@liminal/store';
import { availableStoreKinds } from '@liminal/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { createSupervisor, DurableSteps, openConversation, participant, type ParticipantInput, type StepContext, type SupervisorEvent } from '../src/index.js';

const kinds = await availableStoreKinds();

/** A side effect whose count lives in the store, so a test can prove it ran once. */
async function bump(store: DurableStore, key: string): Promise<number> {
  const current = (await store.readValue(key)) ?? 0;
  await store.cas(key, current, current + 1);
  return current + 1;
}

describe.each(kinds)('DurableSteps on $name', (kind) => {
  let store: DurableStore;
  beforeEach(async () => {
    store = await kind.open();
  });
  afterEach(async () => {
    await store.close();
  });

  async function threeSteps(steps: StepContext, crashBefore?: string): Promise<string> {
    const a = await steps.step('a', async () => `a${await bump(store, `count:${steps.messageId}:a`)}`);
    if (crashBefore === 'b') throw new Error('crash before b');
    const b = await steps.step('b', async () => `${a}b${await bump(store, `count:${steps.messageId}:b`)}`);
    if (crashBefore === 'c') throw new Error('crash before c');
    return steps.step('c', async () => `${b}c${await bump(store, `count:${steps.messageId}:c`)}`);
  }

  it('a malformed lifecycle event or receipt is refused when it is issued, so it never fails the writes it would have been committed with', async () => {
    const steps = await DurableSteps.open(store, 'conv');
    // Issued in the same tick as the message's admission, which they would otherwise ride with.
    const refused = [
      steps.recordLifecycle({ kind: 'participantExited', participant: 5, exitedAt: 1 } as never),
      steps.recordLifecycle({ kind: 'phaseChanged', phase: 'active', at: -1 }),
      steps.receive('m0', 'not bytes' as never),
    ];
    const ran = steps.run('m1', (ctx) => threeSteps(ctx));
    for (const write of refused) await expect(write).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await ran).toEqual({ kind: 'completed', value: 'a1b1c1' });
    const reopened = await DurableSteps.open(store, 'conv');
    expect(reopened.conversation.state.hasReceived('m0')).toBe(false);
    expect(await reopened.run('m1', (ctx) => threeSteps(ctx))).toEqual({ kind: 'skipped' });
  });

  it('runs a new message once; redelivering it is skipped', async () => {
    const steps = await DurableSteps.open(store, 'conv');
    expect(await steps.run('m1', (ctx) => threeSteps(ctx))).toEqual({ kind: 'completed', value: 'a1b1c1' });
    expect(await steps.run('m1', (ctx) => threeSteps(ctx))).toEqual({ kind: 'skipped' });
    const reopened = await DurableSteps.open(store, 'conv');
    expect(await reopened.run('m1', (ctx) => threeSteps(ctx))).toEqual({ kind: 'skipped' });
    for (const step of ['a', 'b', 'c']) expect(await store.readValue(`count:m1:${step}`)).toBe(1);
  });

  it('after a crash mid-message, a recovered run resumes after the last recorded step and reuses its outputs', async () => {
    const first = await DurableSteps.open(store, 'conv');
    await expect(first.run('m1', (ctx) => threeSteps(ctx, 'c'))).rejects.toThrow('crash before c');
    const recovered = await DurableSteps.open(store, 'conv');
    const admission = await recovered.begin('m1');
    expect(admission).toMatchObject({ kind: 'run', resumedAt: 2 });
    expect(await threeSteps((admission as { steps: StepContext }).steps)).toBe('a1b1c1');
    await recovered.finish('m1');
    for (const step of ['a', 'b', 'c']) expect(await store.readValue(`count:m1:${step}`)).toBe(1);
    expect(recovered.conversation.state.isFullyProcessed('m1')).toBe(true);
    expect(recovered.conversation.state.errorOf('m1')).toContain('crash before c');
  });

  it('a second writer on the same conversation is fenced with SequenceConflictError', async () => {
    const a = await DurableSteps.open(store, 'conv');
    const b = await DurableSteps.open(store, 'conv');
    await a.run('m1', (ctx) => threeSteps(ctx));
    await expect(b.run('m2', (ctx) => threeSteps(ctx))).rejects.toBeInstanceOf(SequenceConflictError);
  });

  it('a recorded output that is not valid JSON raises DecodeError instead of a wrong value', async () => {
    const conversation = await DurableConversation.recover(store, 'conv');
    await conversation.receiveMessage('m1', 1);
    await conversation.recordStepCompleted('m1', 0, new TextEncoder().encode('not json'));
    const steps = await DurableSteps.open(store, 'conv');
    let ran = false;
    await expect(steps.run('m1', (ctx) => ctx.step('a', () => (ran = true)))).rejects.toBeInstanceOf(DecodeError);
    expect(ran).toBe(false);
  });
});

describe('durable conversations', () => {
  let store: DurableStore;
  beforeEach(async () => {
    store = await kinds[0]!.open();
  });
  afterEach(async () => {
    await store.close();
  });

  /** Two steps with counted side effects; crashes between them when `crashes` says so. */
  function worker(id: string, crashes: (participant: string) => boolean) {
    return participant(
      id,
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        const { steps } = input;
        const one = await steps.step('one', () => bump(store, `count:${steps.messageId}:one`));
        if (crashes(id)) throw new Error(`${id} crashed after step one`);
        const two = await steps.step('two', () => bump(store, `count:${steps.messageId}:two`));
        return `${id}:${one}:${two}`;
      }),
    );
  }

  it('routeToNext resumes the crashed message on the next participant without repeating recorded steps', async () => {
    const steps: string[] = [];
    const handle = await openConversation({
      id: 'durable-route',
      mode: 'durable',
      store,
      onCrash: 'routeToNext',
      participants: [worker('a', (id) => id === 'a'), worker('b', () => false)],
      onStep: (event) => steps.push(`${event.kind}:${event.step}`),
    });
    const reply = await handle.ask('order', { timeoutMs: 5000, messageId: 'order-1' });
    expect(reply.message.payload).toBe('b:1:1');
    // a ran step one and crashed; b reused its recorded output and ran step two.
    expect(steps).toEqual(['completed:one', 'replayed:one', 'completed:two']);
    expect(await store.readValue('count:order-1:one')).toBe(1);
    expect(await store.readValue('count:order-1:two')).toBe(1);
    await handle.close();
  });

  it('a finished message id asked again, even by a new conversation instance, gets its recorded reply without running anything', async () => {
    const seen: string[] = [];
    const options = {
      id: 'durable-skip',
      mode: 'durable',
      store,
      onCrash: 'fail',
      participants: [worker('a', () => false)],
      onStep: (event: { kind: string; step: string }) => seen.push(`${event.kind}:${event.step}`),
    } as const;
    const first = await openConversation(options);
    expect((await first.ask('x', { timeoutMs: 5000, messageId: 'm' })).message.payload).toBe('a:1:1');
    // Left open: a closed conversation reopens closed (see persistedState.test.ts).
    seen.length = 0;
    const second = await openConversation(options);
    const again = await second.ask('x', { timeoutMs: 5000, messageId: 'm' });
    expect(again.message.payload).toBe('a:1:1');
    expect(again.inReplyTo).toBe('m');
    // A redelivered send (no ask) gets the reply too, through receive.
    second.send('x', { messageId: 'm' });
    expect((await second.receive({ timeoutMs: 5000 })).message.payload).toBe('a:1:1');
    await second.close();
    expect(seen).toEqual([]);
    expect(await store.readValue('count:m:one')).toBe(1);
    expect(await store.readValue('count:m:two')).toBe(1);
  });

  it('a stale second instance of the same durable conversation is fenced: it fails with journalFailed', async () => {
    const options = { id: 'durable-fenced', mode: 'durable', store, onCrash: 'fail', participants: [worker('a', () => false)] } as const;
    const first = await openConversation(options);
    const stale = await openConversation(options);
    await first.ask('x', { timeoutMs: 5000, messageId: 'm1' });
    const error = await stale.ask('y', { timeoutMs: 5000, messageId: 'm2' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'journalFailed' });
    expect((error as Error).cause).toBeInstanceOf(SequenceConflictError);
    expect(await store.readValue('count:m2:one')).toBeUndefined();
  });

  it('a supervisor restart resumes the message the crashed child was processing', async () => {
    const steps = await DurableSteps.open(store, 'supervised');
    let crashesLeft = 1;
    const messages = ['m1', 'm2', 'm3'];
    const consumer = fromPromise(async () => {
      // Re-reads every message from the start, as a consumer without a checkpoint would.
      for (const messageId of messages) {
        await steps.run(messageId, async (ctx) => {
          await ctx.step('one', () => bump(store, `count:${messageId}:one`));
          if (messageId === 'm2' && crashesLeft-- > 0) throw new Error('crash in m2');
          await ctx.step('two', () => bump(store, `count:${messageId}:two`));
        });
      }
    });
    const events: SupervisorEvent[] = [];
    const actor = createActor(createSupervisor({ strategy: 'oneForOne', children: [{ id: 'consumer', logic: consumer, restart: 'transient' }] }));
    actor.on('*', (event) => events.push(event));
    actor.start();
    await new Promise<void>((resolve) => actor.on('supervisor.exit', () => resolve()));
    expect(events.map((event) => event.type)).toEqual(['supervisor.crash', 'supervisor.restart', 'supervisor.exit']);
    for (const messageId of messages) {
      expect(await store.readValue(`count:${messageId}:one`)).toBe(1);
      expect(await store.readValue(`count:${messageId}:two`)).toBe(1);
    }
    actor.stop();
  });
});
