import { fnv1a64Hex } from './internal/fnv1a64.js';

/**
 * FNV-1a 64-bit over the key's UTF-8 bytes, as 16 lowercase hex digits. A
 * published, dependency-free hash that any process or language computes the
 * same way, so it can name streams that another process must find again.
 */
export function keyHash(key: string): string {
  return fnv1a64Hex(key);
}
