import { InvalidArgumentError } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePredicate, evaluatePredicate, where, type Predicate } from '../src/index.js';

const order = { kind: 'order', total: 42, customer: { tier: 'gold', since: 2019 }, note: null, items: [{ sku: 'a1' }] };

describe('predicates', () => {
  const truthTable: [string, Predicate, boolean][] = [
    ['eq on a top-level field', where.eq('kind', 'order'), true],
    ['eq on a dotted path', where.eq('customer.tier', 'gold'), true],
    ['eq into an array by index', where.eq('items.0.sku', 'a1'), true],
    ['eq with a different value', where.eq('kind', 'refund'), false],
    ['eq with a type mismatch', where.eq('total', '42'), false],
    ['eq null on a null field', where.eq('note', null), true],
    ['ne with a different value', where.ne('kind', 'refund'), true],
    ['ne with the same value', where.ne('kind', 'order'), false],
    ['ne on a missing field', where.ne('missing', 'x'), false],
    ['ne with a type mismatch', where.ne('total', 'x'), false],
    ['gt below', where.gt('total', 41), true],
    ['gt equal', where.gt('total', 42), false],
    ['gte equal', where.gte('total', 42), true],
    ['lt above', where.lt('total', 43), true],
    ['lt equal', where.lt('total', 42), false],
    ['lte equal', where.lte('total', 42), true],
    ['gt on strings compares code units', where.gt('kind', 'apple'), true],
    ['gt with a type mismatch', where.gt('kind', 1), false],
    ['range includes its lower bound', where.range('total', 42, 50), true],
    ['range includes its upper bound', where.range('total', 10, 42), true],
    ['range excludes outside values', where.range('total', 43, 50), false],
    ['range with a type mismatch', where.range('kind', 0, 100), false],
    ['exists on a present field', where.exists('customer.since'), true],
    ['exists on a null field', where.exists('note'), true],
    ['exists on a missing field', where.exists('customer.age'), false],
    ['exists through a scalar', where.exists('total.value'), false],
    ['a path never reaches the prototype', where.exists('kind.length'), false],
    ['a path never reaches inherited members', where.exists('constructor'), false],
    ['and of nothing is true', where.and(), true],
    ['or of nothing is false', where.or(), false],
    ['and needs every child', where.and(where.eq('kind', 'order'), where.gt('total', 100)), false],
    ['or needs one child', where.or(where.eq('kind', 'refund'), where.gt('total', 10)), true],
    ['not negates', where.not(where.eq('kind', 'order')), false],
    ['not of a missing-field comparison is true', where.not(where.gt('missing', 1)), true],
  ];

  for (const [name, predicate, expected] of truthTable) {
    it(`${name} → ${expected}`, () => {
      expect(compilePredicate(predicate)(order)).toBe(expected);
      expect(evaluatePredicate(predicate, order)).toBe(expected);
    });
  }

  it('treats a non-object message as having no fields', () => {
    for (const message of [null, undefined, 7, 'text', true]) {
      expect(compilePredicate(where.exists('a'))(message)).toBe(false);
      expect(compilePredicate(where.not(where.eq('a', 1)))(message)).toBe(true);
    }
  });

  it('survives a JSON round trip unchanged in meaning', () => {
    const p = where.and(where.range('total', 1, 100), where.or(where.eq('customer.tier', 'gold'), where.not(where.exists('note'))));
    const revived = JSON.parse(JSON.stringify(p)) as Predicate;
    expect(compilePredicate(revived)(order)).toBe(compilePredicate(p)(order));
    expect(compilePredicate(revived)(order)).toBe(true);
  });

  it('rejects malformed predicates with a typed error naming the node', () => {
    const bad: unknown[] = [
      { op: 'matches', path: 'a', value: 1 },
      { op: 'eq', path: '', value: 1 },
      { op: 'eq', path: 'a..b', value: 1 },
      { op: 'eq', path: 'a', value: { nested: true } },
      { op: 'gt', path: 'a', value: Number.NaN },
      { op: 'gt', path: 'a', value: null },
      { op: 'range', path: 'a', min: 1, max: 'z' },
      { op: 'and', predicates: 'nope' },
      { op: 'not' },
      null,
    ];
    for (const p of bad) {
      expect(() => compilePredicate(p as Predicate)).toThrow(InvalidArgumentError);
      expect(() => evaluatePredicate(p as Predicate, order)).toThrow(InvalidArgumentError);
    }
    expect(() => compilePredicate(where.and(where.eq('a', 1), { op: 'bogus' } as unknown as Predicate))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'predicate.predicates[1].op' }),
    );
  });

  it('compiled predicates agree with the interpreter on arbitrary predicates and messages', () => {
    const key = fc.constantFrom('a', 'b', 'c');
    const path = fc.array(key, { minLength: 1, maxLength: 3 }).map((segments) => segments.join('.'));
    const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', 'y', 'z', ''), fc.boolean(), fc.constant(null));
    const ordered = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', 'y', 'z'));
    const predicate = fc.letrec<{ p: Predicate }>((tie) => ({
      p: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({ op: fc.constantFrom('eq' as const, 'ne' as const), path, value: scalar }),
        fc.record({ op: fc.constantFrom('gt' as const, 'gte' as const, 'lt' as const, 'lte' as const), path, value: ordered }),
        fc.oneof(
          fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 })),
          fc.tuple(fc.constantFrom('x', 'y', 'z'), fc.constantFrom('x', 'y', 'z')),
        ).chain(([min, max]) => path.map((p): Predicate => ({ op: 'range', path: p, min, max }))),
        fc.record({ op: fc.constant('exists' as const), path }),
        fc.record({ op: fc.constantFrom('and' as const, 'or' as const), predicates: fc.array(tie('p'), { maxLength: 3 }) }),
        fc.record({ op: fc.constant('not' as const), predicate: tie('p') }),
      ),
    })).p;
    const message = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, scalar, fc.dictionary(key, tie('v'), { maxKeys: 3 }), fc.array(tie('v'), { maxLength: 2 })),
    })).v;

    fc.assert(
      fc.property(predicate, message, (p, m) => {
        expect(compilePredicate(p)(m)).toBe(evaluatePredicate(p, m));
      }),
      { numRuns: 2000 },
    );
  });
});
