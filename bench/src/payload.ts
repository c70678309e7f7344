import type { BenchEvent } from '@liminal/bench-peer-emmett-sqlite';

/**
 * Every side writes the same ~100-byte JSON document: Emmett receives it as
 * an event object (and serialises it itself), Liminal and the raw loops as
 * its UTF-8 bytes.
 */
export const event: BenchEvent = { type: 'Appended', data: { body: 'liminal-bench-'.padEnd(64, 'x') } };
export const payload: Buffer = Buffer.from(JSON.stringify(event));
export const payloadBytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
