/**
 * Drivers hand back Node `Buffer`s; the contract returns plain `Uint8Array`s
 * so results compare equal across adapters and no caller depends on Buffer.
 */
export function toUint8Array(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
