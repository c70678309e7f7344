import { InvalidArgumentError } from '@liminal/store';
import { codec } from '../codec.js';

/** Where an immediate publish was stored. */
export interface Published {
  readonly messageId: string;
  readonly partition: number;
  readonly sequence: number;
}

/** Where a scheduled publish waits: its offset comes when it is due. */
export interface ScheduledPublished {
  readonly messageId: string;
  readonly partition: number;
  readonly deliverAt: number;
}

/** The result an idempotency key's receipt records. */
export function resultOf(receipt: Uint8Array): Published | ScheduledPublished {
  const { kind: _kind, ...result } = codec.decodeAs(receipt, 'publishReceipt', 'scheduledPublishReceipt');
  return result;
}

/**
 * A repeat of an idempotent publish gets the first one's result, so it must
 * be of the same kind: a repeat without `deliverAt` of a scheduled publish
 * cannot be given an offset the message does not have yet, and the reverse
 * would hide that the message was not scheduled. Either is an `InvalidArgumentError`.
 */
export function repeatOf(idempotencyKey: string, first: Published | ScheduledPublished, scheduled: true): ScheduledPublished;
export function repeatOf(idempotencyKey: string, first: Published | ScheduledPublished, scheduled: false): Published;
export function repeatOf(idempotencyKey: string, first: Published | ScheduledPublished, scheduled: boolean): Published | ScheduledPublished;
export function repeatOf(idempotencyKey: string, first: Published | ScheduledPublished, scheduled: boolean): Published | ScheduledPublished {
  if ('deliverAt' in first === scheduled) return first;
  const was = 'deliverAt' in first ? `with deliverAt ${first.deliverAt}` : `without deliverAt (at offset ${first.sequence})`;
  throw new InvalidArgumentError('deliverAt', `idempotency key ${JSON.stringify(idempotencyKey)} was first published ${was}; repeat it the same way`);
}
