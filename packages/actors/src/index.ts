export { Conversation } from './Conversation.js';
export { ConversationHandle } from './ConversationHandle.js';
export type { ConversationState, ParticipantExit } from './ConversationState.js';
export type { SendOptions, WaitOptions } from './messaging.js';
export { ConversationMessage } from './ConversationMessage.js';
export { conversationMachine } from './conversationMachine.js';
export { cancelConversation, ConcurrentChangeError, ConversationActionRefusedError, retryConversation } from './conversationActions.js';
export type { ActionRefusal, ConversationActionOptions, ConversationActionResult } from './conversationActions.js';
export { isConversationRecord, readConversationTimeline } from './conversationTimeline.js';
export type { ConversationTimeline, RecordedValue, TimelineEntry, TimelineSummary } from './conversationTimeline.js';
export type { ConversationActor } from './conversationMachine.js';
export type {
  ConversationContext,
  ConversationEmitted,
  ConversationEvent,
  ConversationInput,
  ConversationLogEntry,
  ConversationMode,
  CrashPolicy,
  ParticipantHealth,
  ParticipantStatus,
} from './conversationTypes.js';
export { createDurableActor } from './createDurableActor.js';
export type { DurableActor, DurableActorOptions, DurableActorRef, DurableActorStatus, DurableSendOptions, DurableSendResult } from './createDurableActor.js';
export { ActorFencedError, ActorStoppedError, JournalMismatchError, VersionMismatchError } from './durableActorErrors.js';
export { durableParticipant, PARTICIPANT_REPLY } from './durableParticipant.js';
export type { DurableParticipantOptions, DurableParticipantSpec } from './durableParticipant.js';
export { DurableSteps } from './DurableSteps.js';
export { COMPENSATION_MESSAGE_ID } from './DurableSteps.js';
export type { BeginOptions, CompensationCause, DurableStepsOptions, InterruptedCompensations, MessageAdmission, StepRunOutcome } from './DurableSteps.js';
export {
  CompensationInterruptedError,
  ConversationClosedError,
  ConversationFailedError,
  NonDeterminismError,
  TimeoutError,
} from './errors.js';
export type { ConversationFailure } from './errors.js';
export { openConversation } from './openConversation.js';
export type { ConversationOptions } from './openConversation.js';
export { participant, turnCompleted } from './participant.js';
export type { Envelope, ParticipantInput, ParticipantSpec, TurnCompletedEvent } from './participant.js';
export { phaseChange } from './phases.js';
export type { ConversationPhase, FailureReason, PhaseChange } from './phases.js';
export { jsonCodec, systemTimers } from './steps.js';
export type {
  CompensationHandler,
  CompensationInfo,
  CompensationOutcome,
  CompensationRegistration,
  CompensationRegistry,
  CompensationResult,
  StepCodec, StepContext, StepEvent, StepObserver, StepOptions, StepTimers } from './steps.js';
// Defined in @liminal/durability, the lowest package that needs them (a
// durable channel parses traceparents; channels supervise their actors without
// depending on this package); re-exported so conversation code imports one package.
export { createSupervisor, InvalidTraceparentError, supervisionEvent, SupervisorEscalationError, systemClock, TraceContext } from '@liminal/durability';
export type { ChildSpec, Clock, RestartStrategy, RestartType, SupervisorEvent, SupervisorOptions } from '@liminal/durability';
