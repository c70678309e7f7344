export type { ChannelHandle } from './ChannelHandle.js';
export { ChannelMetrics, type ChannelMetricsOptions, type CrashKind, type PhaseSource, type StepTiming } from './ChannelMetrics.js';
export { ChannelRegistry, type ChannelRegistryOptions } from './ChannelRegistry.js';
export { type Clock, systemClock } from './Clock.js';
export { compilePredicate, type MessageFilter } from './compilePredicate.js';
export type { ConsumerGroup, ConsumerGroupOptions, UndeliverableListener } from './ConsumerGroup.js';
export { decodeDurableMessage, type DurableMessage } from './durableMessage.js';
export type { DurableSubscribeOptions, DurableSubscription } from './DurableSubscription.js';
export {
  BackpressureError,
  ChannelClosedError,
  ChannelExistsError,
  ChannelNotFoundError,
  DeliveryFailedError,
  IncompatibleSchemaError,
  NoConsumerAvailableError,
  SchemaMismatchError,
} from './errors.js';
export { evaluatePredicate } from './evaluatePredicate.js';
export { assertPredicate, where, type Ordered, type Predicate, type Scalar } from './Predicate.js';
export { type MetricsServer, type MetricsSource, serveMetrics } from './serveMetrics.js';
export type {
  ChannelConfig,
  ChannelMode,
  ChannelState,
  ChannelStats,
  ChannelSummary,
  Delivery,
  Handler,
  InboxOptions,
  JsonSchema,
  OverflowPolicy,
  PublishOptions,
  PublishResult,
  RestartPolicy,
  SubscribeOptions,
  SubscriptionStats,
  Unsubscribe,
} from './types.js';
