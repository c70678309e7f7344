import { InvalidArgumentError } from '@liminal/store';
import { fnv1a64 } from './internal/fnv1a64.js';

/**
 * The partition a routing key maps to among `partitions`: FNV-1a 64-bit of
 * its UTF-8 bytes, modulo the count. Ephemeral and durable channels both use
 * it, so a key lands on the same partition whatever the mode.
 *
 * This mapping is a stored-format decision: durable channels keep each
 * partition in its own stream, and every message already stored for a key
 * sits in `partitionFor(key, partitions)`. Changing the hash, or the
 * partition count of an existing channel, sends new messages for a key to
 * another partition than its earlier ones, which breaks per-key order.
 */
export function partitionFor(key: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new InvalidArgumentError('partitions', `expected a positive safe integer, got ${String(partitions)}`);
  }
  return Number(fnv1a64(key) % BigInt(partitions));
}
