import { InvalidArgumentError } from '@liminal/store';

/** A JSON scalar a field can be compared with for (in)equality. */
export type Scalar = string | number | boolean | null;
/** A value with an order: numbers compare numerically, strings by UTF-16 code units. */
export type Ordered = string | number;

/**
 * A routing predicate as plain, serialisable data (it survives `JSON.stringify`),
 * so filters can be stored, sent over the wire and compiled once where they run.
 * `path` is a dotted path into the message (`'order.total'`, `'items.0.sku'`).
 *
 * A missing field or a field whose type differs from the operand's makes every
 * comparison false, `ne` included: `ne('n', 1)` only matches a present, numeric `n`
 * other than 1.
 */
export type Predicate =
  | { readonly op: 'eq' | 'ne'; readonly path: string; readonly value: Scalar }
  | { readonly op: 'gt' | 'gte' | 'lt' | 'lte'; readonly path: string; readonly value: Ordered }
  | { readonly op: 'range'; readonly path: string; readonly min: Ordered; readonly max: Ordered }
  | { readonly op: 'exists'; readonly path: string }
  | { readonly op: 'and' | 'or'; readonly predicates: readonly Predicate[] }
  | { readonly op: 'not'; readonly predicate: Predicate };

/** Builders for {@link Predicate} data; `where.and()` is true and `where.or()` is false. */
export const where = {
  eq: (path: string, value: Scalar): Predicate => ({ op: 'eq', path, value }),
  ne: (path: string, value: Scalar): Predicate => ({ op: 'ne', path, value }),
  gt: (path: string, value: Ordered): Predicate => ({ op: 'gt', path, value }),
  gte: (path: string, value: Ordered): Predicate => ({ op: 'gte', path, value }),
  lt: (path: string, value: Ordered): Predicate => ({ op: 'lt', path, value }),
  lte: (path: string, value: Ordered): Predicate => ({ op: 'lte', path, value }),
  /** Inclusive at both ends: `min <= field <= max`, all three of one type. */
  range: (path: string, min: Ordered, max: Ordered): Predicate => ({ op: 'range', path, min, max }),
  exists: (path: string): Predicate => ({ op: 'exists', path }),
  and: (...predicates: Predicate[]): Predicate => ({ op: 'and', predicates }),
  or: (...predicates: Predicate[]): Predicate => ({ op: 'or', predicates }),
  not: (predicate: Predicate): Predicate => ({ op: 'not', predicate }),
} as const;

/**
 * Checks that untrusted data (say, parsed JSON) is a well-formed predicate,
 * throwing `InvalidArgumentError` naming the offending node otherwise.
 */
export function assertPredicate(value: unknown, at = 'predicate'): asserts value is Predicate {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(at, 'expected a predicate object');
  const node = value as Record<string, unknown>;
  switch (node['op']) {
    case 'eq':
    case 'ne':
      assertPath(`${at}.path`, node['path']);
      if (!isScalar(node['value'])) throw new InvalidArgumentError(`${at}.value`, 'expected a JSON scalar (finite number, string, boolean or null)');
      return;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      assertPath(`${at}.path`, node['path']);
      assertOrdered(`${at}.value`, node['value']);
      return;
    case 'range':
      assertPath(`${at}.path`, node['path']);
      assertOrdered(`${at}.min`, node['min']);
      assertOrdered(`${at}.max`, node['max']);
      if (typeof node['min'] !== typeof node['max']) throw new InvalidArgumentError(at, 'range bounds must have the same type');
      return;
    case 'exists':
      assertPath(`${at}.path`, node['path']);
      return;
    case 'and':
    case 'or': {
      const predicates = node['predicates'];
      if (!Array.isArray(predicates)) throw new InvalidArgumentError(`${at}.predicates`, 'expected an array of predicates');
      predicates.forEach((child, index) => assertPredicate(child, `${at}.predicates[${index}]`));
      return;
    }
    case 'not':
      assertPredicate(node['predicate'], `${at}.predicate`);
      return;
    default:
      throw new InvalidArgumentError(`${at}.op`, `unknown operator ${JSON.stringify(node['op'])}`);
  }
}

function assertPath(argument: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.split('.').some((segment) => segment.length === 0)) {
    throw new InvalidArgumentError(argument, 'expected a dotted path of non-empty segments');
  }
}

function assertOrdered(argument: string, value: unknown): asserts value is Ordered {
  if (!(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))) {
    throw new InvalidArgumentError(argument, 'expected a finite number or a string');
  }
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}
