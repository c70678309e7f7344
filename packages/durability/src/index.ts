export { ChannelConsumer } from './ChannelConsumer.js';
export { listChannels, listConsumerPositions, readChannel, readConsumerPositions } from './channelInspection.js';
export type { ChannelInfo, ConsumerPosition } from './channelInspection.js';
export type { ChannelEnvelope, ConsumerIdentity, ConsumerSource, MessageHandler, PollOptions, ProcessOptions, ProcessOutcome } from './ChannelConsumer.js';
export { systemClock } from './Clock.js';
export type { Clock } from './Clock.js';
export { CheckpointDriver } from './CheckpointDriver.js';
export type { CheckpointPolicy } from './CheckpointDriver.js';
export { CODEC_VERSION, codec } from './codec.js';
export type {
  ActorRecord,
  ChannelMessage,
  ConversationSnapshot,
  DurableRecord,
  DurableRecordKind,
  DedupClaimRecord,
  DedupReceiptRecord,
  GroupRecord,
  MemberLeftReason,
  PublishReceipt,
  RecordOf,
  ScheduledPublishReceipt,
} from './codec.js';
export { listConversations, readConversationSummary } from './ConversationIndex.js';
export type { ConversationPage, ConversationSummary, ListConversationsOptions } from './ConversationIndex.js';
export { ConsumerCursor, cursorKeyFor, partitionStreamFor } from './ConsumerCursor.js';
export { CONVERSATION_EVENT_KINDS, CONVERSATION_PHASES } from './ConversationEvent.js';
export type { ConversationEvent, ConversationEventKind, ConversationPhase, LifecycleEvent, MessageEvent } from './ConversationEvent.js';
export {
  assertEvent as assertConversationEvent,
  assertLifecycleEvent,
  ConversationState,
  EMPTY_HEADER,
  RECENT_LOG_LIMIT,
} from './ConversationState.js';
export type { ConversationHeader, MessageProgress, RedeliveryDecision } from './ConversationState.js';
export { createSupervisor, supervisionEvent } from './createSupervisor.js';
export type { ChildSpec, RestartStrategy, RestartType, SupervisorEvent, SupervisorOptions } from './createSupervisor.js';
export { DedupCache } from './DedupCache.js';
export { listDedupKeys, readDedupKey } from './dedupInspection.js';
export type { DedupKeyPage, DedupKeyState } from './dedupInspection.js';
export type { ClaimOptions, ClaimToken, DedupDecision, DedupEntry, RunOnceOptions, SettleOptions } from './DedupCache.js';
export { DedupSweeper, SWEEP_PAGE_SIZE } from './DedupSweeper.js';
export type { DedupSweepReport } from './DedupSweeper.js';
export { DEFAULT_CLAIM_LEASE_MS, DurableChannel } from './DurableChannel.js';
export type {
  ConsumeOptions,
  DurableChannelOptions,
  PublishOptions,
  PublishResult,
  ScheduledPublishOptions,
  ScheduledPublishResult,
} from './DurableChannel.js';
export {
  DEFAULT_SNAPSHOT_POLICY,
  DurableConversation,
  recoveryMetrics,
  REPLAY_BATCH_SIZE,
  snapshotStreamFor,
} from './DurableConversation.js';
export type { DurableConversationOptions, RecoveryMetrics, RecoverySource, SnapshotPolicy } from './DurableConversation.js';
export {
  ClaimLostError,
  ConditionFailedError,
  CursorRegressionError,
  DedupCollisionError,
  EffectConflictError,
  EffectTxClosedError,
  InvalidTraceparentError,
  LeaseLostError,
  MessageFailedError,
  SupervisorEscalationError,
} from './errors.js';
export type { EffectTx, OnceOutcome, OnceWork } from './EffectTx.js';
export { GroupMember } from './GroupMember.js';
export { listGroups, readGroup } from './groupInspection.js';
export type { GroupInfo } from './groupInspection.js';
export type { GroupRunOptions, LeaseLostListener, MessageFailedListener, PartitionsListener } from './GroupMember.js';
export { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS, DEFAULT_POLL_MS } from './JoinOptions.js';
export type { JoinOptions } from './JoinOptions.js';
export { messageIdFor, newMessageId } from './messageId.js';
export { monotonicClock } from './MonotonicClock.js';
export type { MonotonicClock } from './MonotonicClock.js';
export type { DedupCollisionReason } from './errors.js';
export { keyHash } from './keyHash.js';
export { partitionFor } from './partitionFor.js';
export { recoverConversation, recoverCursor } from './recovery.js';
export { parseStoreKey } from './parseStoreKey.js';
export { storeKey, storeKeyPrefix } from './storeKey.js';
export type { StoreKeyPart } from './storeKey.js';
export { TraceContext } from './TraceContext.js';
