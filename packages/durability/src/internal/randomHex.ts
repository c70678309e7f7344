import { randomFillSync } from 'node:crypto';

// Two `randomBytes` calls per new trace context (trace and span id) were the
// largest single cost of an ephemeral channel publish; drawing from a refilled
// pool, as `crypto.randomUUID` does internally, makes an id a slice of a buffer.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** `bytes` random bytes as lowercase hex, never all zeros (an invalid W3C id). */
export function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const hex = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    if (/[^0]/.test(hex)) return hex;
  }
}
