import { ConfigError, InvalidArgumentError } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConversationState, type ConversationEvent } from '../src/index.js';
import { conversationEventArb } from './support/arbitraries.js';
import { describeModel, describeState, ReferenceModel } from './support/referenceModel.js';

const ids = ['m1', 'm2', 'm3', 'm4', 'never-seen'];

describe('ConversationState', () => {
  it('decides start for a new message, resumeFrom after steps, skip once finished', () => {
    const state = new ConversationState();
    expect(state.redeliveryDecision('m')).toEqual({ kind: 'start' });
    state.apply({ kind: 'messageReceived', messageId: 'm', receivedAt: 1 });
    expect(state.redeliveryDecision('m')).toEqual({ kind: 'resumeFrom', step: 0 });
    state.apply({ kind: 'stepCompleted', messageId: 'm', stepIndex: 0, output: Uint8Array.of(1) });
    state.apply({ kind: 'stepCompleted', messageId: 'm', stepIndex: 1, output: Uint8Array.of(2) });
    expect(state.redeliveryDecision('m')).toEqual({ kind: 'resumeFrom', step: 2 });
    state.apply({ kind: 'processingFinished', messageId: 'm' });
    expect(state.redeliveryDecision('m')).toEqual({ kind: 'skip' });
    expect(state.isFullyProcessed('m')).toBe(true);
  });

  it('keeps the message a receipt carries until it finishes, and lists unfinished messages in receipt order', () => {
    const state = new ConversationState();
    state.apply({ kind: 'messageReceived', messageId: 'b', receivedAt: 1, payload: Uint8Array.of(2) });
    state.apply({ kind: 'messageReceived', messageId: 'a', receivedAt: 2, payload: Uint8Array.of(1) });
    state.apply({ kind: 'messageReceived', messageId: 'c', receivedAt: 3 });
    // A second receipt does not replace the first one's message.
    state.apply({ kind: 'messageReceived', messageId: 'b', receivedAt: 4, payload: Uint8Array.of(9) });
    expect([...state.unfinishedMessages()].map((m) => [m.messageId, m.payload && [...m.payload]])).toEqual([['b', [2]], ['a', [1]], ['c', undefined]]);
    state.apply({ kind: 'processingFinished', messageId: 'b' });
    expect([...state.unfinishedMessages()].map((m) => m.messageId)).toEqual(['a', 'c']);
    expect([...state.messages()].find((m) => m.messageId === 'b')?.payload).toBeUndefined();
    // A snapshot restore (fromProgress) keeps the same.
    const restored = ConversationState.fromProgress(state.messages(), state.header);
    expect([...restored.unfinishedMessages()].map((m) => [m.messageId, m.payload && [...m.payload]])).toEqual([['a', [1]], ['c', undefined]]);
  });

  it('takes the highest completed step, whatever order steps were recorded in', () => {
    const state = ConversationState.replay([
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 4, output: new Uint8Array() },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 2, output: new Uint8Array() },
    ]);
    expect(state.lastCompletedStep('m')).toBe(4);
    expect(state.nextStepIndex('m')).toBe(5);
    expect(state.lastCompletedStep('other')).toBeUndefined();
    expect(state.nextStepIndex('other')).toBe(0);
  });

  it('refuses to advance past MAX_SAFE_INTEGER with ConfigError', () => {
    const state = ConversationState.replay([
      { kind: 'messageReceived', messageId: 'm', receivedAt: 0 },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: Number.MAX_SAFE_INTEGER, output: new Uint8Array() },
    ]);
    expect(state.lastCompletedStep('m')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => state.nextStepIndex('m')).toThrow(ConfigError);
    expect(() => state.redeliveryDecision('m')).toThrow(ConfigError);
  });

  it('keeps step outputs for reuse and hands out copies', () => {
    const state = ConversationState.replay([{ kind: 'stepCompleted', messageId: 'm', stepIndex: 0, output: Uint8Array.of(7) }]);
    const output = state.stepOutput('m', 0)!;
    output[0] = 99;
    expect(state.stepOutput('m', 0)).toEqual(Uint8Array.of(7));
    expect(state.stepOutput('m', 1)).toBeUndefined();
  });

  it('keeps only the last step output of a finished message (its result), and still skips it', () => {
    const state = ConversationState.replay([
      { kind: 'messageReceived', messageId: 'm', receivedAt: 1 },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 0, output: Uint8Array.of(1) },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 2, output: Uint8Array.of(3) },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 1, output: Uint8Array.of(2) },
      { kind: 'stepCompleted', messageId: 'other', stepIndex: 0, output: Uint8Array.of(9) },
      { kind: 'processingFinished', messageId: 'm' },
    ]);
    expect(state.stepOutput('m', 2)).toEqual(Uint8Array.of(3));
    expect(state.stepOutput('m', 0)).toBeUndefined();
    expect(state.stepOutput('m', 1)).toBeUndefined();
    expect(state.lastCompletedStep('m')).toBe(2);
    expect(state.redeliveryDecision('m')).toEqual({ kind: 'skip' });
    expect(state.stepOutput('other', 0)).toEqual(Uint8Array.of(9));
    state.apply({ kind: 'stepCompleted', messageId: 'm', stepIndex: 3, output: Uint8Array.of(4) });
    expect([...state.messages()].find((message) => message.messageId === 'm')?.steps).toEqual(new Map([[3, Uint8Array.of(4)]]));
  });

  it('restoring a finished message that lists every output keeps only the last, like a replay', () => {
    const restored = ConversationState.fromProgress([
      {
        messageId: 'm',
        received: true,
        inProgress: false,
        finished: true,
        steps: new Map([
          [0, Uint8Array.of(1)],
          [1, Uint8Array.of(2)],
        ]),
      },
    ]);
    expect([...restored.messages()][0]?.steps).toEqual(new Map([[1, Uint8Array.of(2)]]));
    expect(restored.lastCompletedStep('m')).toBe(1);
  });

  it('ends in-progress on finish or error and remembers the last error', () => {
    const state = ConversationState.replay([
      { kind: 'processingStarted', messageId: 'a' },
      { kind: 'processingStarted', messageId: 'b' },
      { kind: 'errorOccurred', messageId: 'a', error: 'first' },
      { kind: 'errorOccurred', messageId: 'a', error: 'second' },
    ]);
    expect(state.isInProgress('a')).toBe(false);
    expect(state.isInProgress('b')).toBe(true);
    expect(state.errorOf('a')).toBe('second');
  });

  it('rejects malformed events without changing anything', () => {
    const state = new ConversationState();
    const bad = [
      { kind: 'stepCompleted', messageId: 'm', stepIndex: -1, output: new Uint8Array() },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 1.5, output: new Uint8Array() },
      { kind: 'stepCompleted', messageId: 'm', stepIndex: 2 ** 53, output: new Uint8Array() },
      { kind: 'messageReceived', messageId: 'm', receivedAt: -5 },
      { kind: 'whatever', messageId: 'm' },
    ] as unknown as ConversationEvent[];
    for (const event of bad) expect(() => state.apply(event)).toThrow(InvalidArgumentError);
    expect(state.messageCount).toBe(0);
    for (const events of [null, undefined, 42]) expect(() => ConversationState.replay(events as never)).toThrow(InvalidArgumentError);
  });

  it('property: replaying any event sequence answers like the reference model', () => {
    fc.assert(
      fc.property(fc.array(conversationEventArb, { maxLength: 60 }), (events) => {
        expect(describeState(ConversationState.replay(events), ids)).toEqual(describeModel(ReferenceModel.replay(events), ids));
      }),
      { numRuns: 300 },
    );
  });

  it('property: a state rebuilt from messages() then fed the rest equals the full replay', () => {
    fc.assert(
      fc.property(fc.array(conversationEventArb, { maxLength: 60 }), fc.nat(), (events, cut) => {
        const at = events.length === 0 ? 0 : cut % (events.length + 1);
        const resumed = ConversationState.fromProgress(ConversationState.replay(events.slice(0, at)).messages());
        for (const event of events.slice(at)) resumed.apply(event);
        expect(describeState(resumed, ids)).toEqual(describeState(ConversationState.replay(events), ids));
      }),
      { numRuns: 200 },
    );
  });
});

describe('ConversationState with Node Buffers', () => {
  it('copies a Buffer output, so later writes to it do not change the state', () => {
    const output = Buffer.from([1, 2]);
    const state = ConversationState.replay([{ kind: 'stepCompleted', messageId: 'm', stepIndex: 0, output }]);
    output[0] = 9;
    expect(state.stepOutput('m', 0)).toEqual(Uint8Array.of(1, 2));
  });
});
