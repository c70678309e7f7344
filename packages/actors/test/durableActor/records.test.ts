import { InvalidArgumentError } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { copyEvent, decodeJournalRecord, encodeRecord, roundTrip, type JournalRecord } from '../../src/internal/durableActor/records.js';

describe('durable actor records', () => {
  it("an event record encoded with copyEvent's text is the same bytes as one serialized whole (event last)", () => {
    for (const sent of [{ type: 'quote', amount: 12.5, lines: [{ sku: 'a', qty: 2 }], note: null }, { type: 'tick' }, { type: 'lone \ud800 "quoted"' }]) {
      const { event, text } = copyEvent('event', sent);
      for (const record of [
        { kind: 'event', target: { path: ['child'], uid: 3 }, source: { path: [], uid: 0 }, at: 1_700_000_000_000, event },
        { kind: 'event', target: { path: [], uid: 0 }, at: 1_700_000_000_001, event },
      ] satisfies JournalRecord[]) {
        expect(encodeRecord(record, text)).toEqual(encodeRecord(record));
        expect(decodeJournalRecord(encodeRecord(record, text))).toEqual(record);
      }
    }
  });

  it('copies an event of a type alone like any other: a plain object equal to its JSON round trip', () => {
    class Tick {
      readonly type = 'tick';
      toJSON(): unknown {
        return { type: 'tock' };
      }
    }
    for (const sent of [{ type: 'tick' }, new Tick(), Object.assign(Object.create(null) as object, { type: 'tick' }), { type: 'tick', extra: undefined }]) {
      const expected: unknown = JSON.parse(JSON.stringify(sent));
      const { event, text } = copyEvent('event', sent);
      expect(event).toStrictEqual(expected);
      expect(JSON.parse(text)).toStrictEqual(expected);
      expect(roundTrip('event', sent)).toStrictEqual(expected);
      expect(event).not.toBe(sent);
    }
  });

  it('keeps errors (nested too) as errors and refuses bigints and cycles, whether or not a replacer is needed', () => {
    const failure = new TypeError('card declined');
    const copy = roundTrip('event', { type: 'failed', detail: { errors: [failure] } });
    const restored = copy.detail.errors[0]!;
    expect(restored).toBeInstanceOf(Error);
    expect({ name: restored.name, message: restored.message }).toEqual({ name: 'TypeError', message: 'card declined' });
    expect(() => roundTrip('event', { type: 'big', n: 1n })).toThrow(InvalidArgumentError);
    const cyclic: Record<string, unknown> = { type: 'loop' };
    cyclic['self'] = { back: cyclic };
    expect(() => roundTrip('event', cyclic)).toThrow(InvalidArgumentError);
    const shared = { sku: 'a' };
    expect(roundTrip('event', { type: 'twice', a: shared, b: [shared] })).toEqual({ type: 'twice', a: { sku: 'a' }, b: [{ sku: 'a' }] });
    expect(roundTrip('event', { type: 'dated', at: new Date(0) })).toEqual({ type: 'dated', at: '1970-01-01T00:00:00.000Z' });
  });
});
