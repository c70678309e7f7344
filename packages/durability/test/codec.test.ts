import { DecodeError, InvalidArgumentError } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codec } from '../src/index.js';
import { recordArb } from './support/arbitraries.js';

const sample = codec.encode({ kind: 'messageReceived', messageId: 'm1', receivedAt: 42 });

describe('codec', () => {
  it('round-trips every record kind', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        expect(codec.decode(codec.encode(record))).toEqual(record);
      }),
    );
  });

  it('writes a versioned big-endian envelope: magic, version, tag, length-prefixed fields', () => {
    // 'L', version 1, tag 0x01, u32 length 2, "m1", u64 42
    expect([...sample]).toEqual([0x4c, 0x01, 0x01, 0, 0, 0, 2, 0x6d, 0x31, 0, 0, 0, 0, 0, 0, 0, 42]);
  });

  it('writes an actor record as the envelope, a length and its payload, in bytes of its own', () => {
    const payload = Uint8Array.of(7, 8, 9);
    const first = codec.encode({ kind: 'actorRecord', payload });
    const second = codec.encode({ kind: 'actorRecord', payload });
    expect([...first]).toEqual([0x4c, 0x01, 0x40, 0, 0, 0, 3, 7, 8, 9]);
    payload[0] = 0;
    first[7] = 1;
    expect([...second]).toEqual([0x4c, 0x01, 0x40, 0, 0, 0, 3, 7, 8, 9]);
    expect(codec.decode(codec.encode({ kind: 'actorRecord', payload: new Uint8Array(0) }))).toEqual({ kind: 'actorRecord', payload: new Uint8Array(0) });
  });

  it('rejects an unknown version', () => {
    const other = sample.slice();
    other[1] = 2;
    expect(() => codec.decode(other)).toThrow(DecodeError);
  });

  it('rejects a bad magic byte and an unknown tag', () => {
    const badMagic = sample.slice();
    badMagic[0] = 0;
    const badTag = sample.slice();
    badTag[2] = 0x7f;
    expect(() => codec.decode(badMagic)).toThrow(DecodeError);
    expect(() => codec.decode(badTag)).toThrow(/unknown record tag/);
  });

  it('rejects every truncation and any trailing byte', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), (record, cut) => {
        const encoded = codec.encode(record);
        expect(() => codec.decode(encoded.subarray(0, cut % encoded.length))).toThrow(DecodeError);
        expect(() => codec.decode(Uint8Array.from([...encoded, 0]))).toThrow(DecodeError);
      }),
    );
  });

  it('rejects an integer beyond MAX_SAFE_INTEGER, invalid UTF-8 and a bad presence byte', () => {
    const huge = sample.slice();
    huge.fill(0xff, 9);
    expect(() => codec.decode(huge)).toThrow(/not a safe integer/);
    const badUtf8 = sample.slice();
    badUtf8[7] = 0xc3; // a lead byte followed by ASCII
    expect(() => codec.decode(badUtf8)).toThrow(/UTF-8/);
    const message = codec.encode({ kind: 'channelMessage', messageId: 'm', key: 'k', publishedAt: 0, payload: new Uint8Array() });
    const badPresence = message.slice();
    badPresence[3 + 5 + 5] = 7;
    expect(() => codec.decode(badPresence)).toThrow(DecodeError);
  });

  it('never crashes or returns a value other than the one the bytes encode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), recordArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (noise, record, at, value) => {
        const mutated = codec.encode(record);
        mutated[at % mutated.length] = value;
        for (const bytes of [noise, Uint8Array.from([0x4c, 0x01, ...noise]), mutated]) {
          let decoded;
          try {
            decoded = codec.decode(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
            continue;
          }
          // Whatever decodes is exactly what those bytes say: encoding it gives them back.
          expect(codec.encode(decoded)).toEqual(bytes);
        }
      }),
    );
  });

  it('decodeAs rejects a record of another kind', () => {
    expect(() => codec.decodeAs(sample, 'dedupClaim')).toThrow(DecodeError);
    expect(codec.decodeAs(sample, 'messageReceived').receivedAt).toBe(42);
  });

  it('refuses to encode what it could not read back', () => {
    expect(() => codec.encode({ kind: 'processingStarted', messageId: 'bad \uD800 surrogate' })).toThrow(InvalidArgumentError);
    expect(() => codec.encode({ kind: 'messageReceived', messageId: 'm', receivedAt: 2 ** 53 })).toThrow(InvalidArgumentError);
    expect(() => codec.encode({ kind: 'messageReceived', messageId: 'm', receivedAt: -1 })).toThrow(InvalidArgumentError);
    for (const notARecord of [null, undefined, 'text', { kind: 'toString' }, { kind: 'conversationSnapshot', conversationId: 'c', coversSeq: 0, messages: 'none' }]) {
      expect(() => codec.encode(notARecord as never)).toThrow(InvalidArgumentError);
    }
    const snapshotWithoutSteps = { kind: 'conversationSnapshot', conversationId: 'c', coversSeq: 0, messages: [{ messageId: 'm', received: true, inProgress: false, finished: false }] };
    expect(() => codec.encode(snapshotWithoutSteps as never)).toThrow(InvalidArgumentError);
  });
});
