export { compilePredicate, type MessageFilter } from './compilePredicate.js';
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
