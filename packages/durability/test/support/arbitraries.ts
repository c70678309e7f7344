import fc from 'fast-check';
import { CONVERSATION_PHASES, type ConversationEvent, type ConversationHeader, type DurableRecord } from '../../src/index.js';

const safeInt = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const payload = fc.uint8Array({ maxLength: 16 });

/** A few message ids so random events keep hitting the same messages. */
export const messageIdArb = fc.constantFrom('m1', 'm2', 'm3', 'm4');

export const conversationEventArb: fc.Arbitrary<ConversationEvent> = fc.oneof(
  fc.record({ kind: fc.constant('messageReceived' as const), messageId: messageIdArb, receivedAt: safeInt, payload }, { requiredKeys: ['kind', 'messageId', 'receivedAt'] }),
  fc.record({ kind: fc.constant('processingStarted' as const), messageId: messageIdArb }),
  fc.record({
    kind: fc.constant('stepCompleted' as const),
    messageId: messageIdArb,
    stepIndex: fc.integer({ min: 0, max: 6 }),
    output: payload,
  }),
  fc.record({ kind: fc.constant('processingFinished' as const), messageId: messageIdArb }),
  fc.record({ kind: fc.constant('errorOccurred' as const), messageId: messageIdArb, error: text }),
  fc.record(
    { kind: fc.constant('conversationCreated' as const), version: text, createdAt: safeInt, deadline: safeInt },
    { requiredKeys: ['kind', 'version', 'createdAt'] },
  ),
  fc.record(
    { kind: fc.constant('phaseChanged' as const), phase: fc.constantFrom(...CONVERSATION_PHASES), at: safeInt, failure: text, cause: text },
    { requiredKeys: ['kind', 'phase', 'at'] },
  ),
  fc.record({ kind: fc.constant('participantExited' as const), participant: fc.constantFrom('a', 'b'), exitedAt: safeInt }),
  fc.record({ kind: fc.constant('entryLogged' as const), entry: payload }),
);

const headerArb: fc.Arbitrary<ConversationHeader> = fc.record({
  version: fc.option(text, { nil: undefined }),
  createdAt: fc.option(safeInt, { nil: undefined }),
  deadline: fc.option(safeInt, { nil: undefined }),
  phase: fc.constantFrom(...CONVERSATION_PHASES),
  failure: fc.option(
    fc.record({ reason: text, cause: text }, { requiredKeys: ['reason'] }),
    { nil: undefined },
  ),
  exits: fc.uniqueArray(fc.tuple(text, safeInt), { selector: ([participant]) => participant, maxLength: 3 }).map((entries) => new Map(entries)),
  recentLog: fc.array(payload, { maxLength: 3 }),
  loggedCount: safeInt,
  stepCount: safeInt,
});

/** A membership-log snapshot: members ascending, each before `position`; owners among them. */
const groupSnapshotArb = fc
  .record({ members: fc.uniqueArray(fc.nat({ max: 1_000 }), { maxLength: 5 }), ids: fc.array(text, { minLength: 5, maxLength: 5 }), extra: fc.nat({ max: 10 }), picks: fc.array(fc.nat(), { maxLength: 12 }) })
  .map(({ members, ids, extra, picks }) => {
    const sorted = [...members].sort((a, b) => a - b);
    return {
      kind: 'groupSnapshot' as const,
      position: (sorted.at(-1) ?? 0) + 1 + extra,
      members: sorted.map((incarnation, i) => ({ incarnation, memberId: ids[i] as string })),
      owners: picks.map((pick) => (sorted.length === 0 || pick % (sorted.length + 1) === 0 ? undefined : sorted[(pick % (sorted.length + 1)) - 1])),
    };
  });

export const recordArb: fc.Arbitrary<DurableRecord> = fc.oneof(
  conversationEventArb,
  fc.record({
    kind: fc.constant('conversationSnapshot' as const),
    conversationId: text,
    fromSeq: fc.constant(0),
    coversSeq: safeInt,
    header: headerArb,
    messages: fc.uniqueArray(
      fc.record(
        {
          messageId: text,
          received: fc.boolean(),
          inProgress: fc.boolean(),
          finished: fc.boolean(),
          error: text,
          payload,
          steps: fc.uniqueArray(fc.tuple(safeInt, payload), { selector: ([step]) => step, maxLength: 3 }).map((entries) => new Map(entries)),
        },
        { requiredKeys: ['messageId', 'received', 'inProgress', 'finished', 'steps'] },
      ),
      { selector: (m) => m.messageId, maxLength: 3 },
    ),
  }),
  fc.record({ kind: fc.constant('dedupClaim' as const), key: text, token: text, owner: text, timestampMs: safeInt, expiresAtMs: safeInt }),
  fc.record({ kind: fc.constant('dedupReceipt' as const), key: text, token: text, receipt: payload, timestampMs: safeInt }, { requiredKeys: ['kind', 'key', 'receipt', 'timestampMs'] }),
  fc.record(
    {
      kind: fc.constant('channelMessage' as const),
      messageId: text,
      key: text,
      causationId: text,
      traceparent: text,
      publishedAt: safeInt,
      payload,
    },
    { requiredKeys: ['kind', 'messageId', 'key', 'publishedAt', 'payload'] },
  ),
  fc.record({ kind: fc.constant('publishReceipt' as const), messageId: text, partition: safeInt, sequence: safeInt }),
  fc.record({ kind: fc.constant('scheduledPublishReceipt' as const), messageId: text, partition: safeInt, deliverAt: safeInt }),
  fc.record({ kind: fc.constant('actorRecord' as const), payload }),
  fc.record({ kind: fc.constant('memberJoined' as const), memberId: text }),
  fc.record({ kind: fc.constant('memberLeft' as const), incarnation: safeInt, reason: fc.constantFrom('left' as const, 'expired' as const) }),
  fc.record({ kind: fc.constant('leaseReleased' as const), incarnation: safeInt, partition: safeInt }),
  groupSnapshotArb,
);
