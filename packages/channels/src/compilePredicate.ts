import type { Ordered, Predicate, Scalar } from './Predicate.js';
import { assertPredicate } from './Predicate.js';
import { readPath, typeTag } from './internal/fieldPath.js';

/** A compiled predicate: a plain function of the message. */
export type MessageFilter = (message: unknown) => boolean;

/**
 * Validates a predicate once and turns it into a closure tree, so routing a
 * message costs no parsing, no path splitting and no operator dispatch.
 * Semantics are exactly those of `evaluatePredicate`.
 */
export function compilePredicate(predicate: Predicate): MessageFilter {
  assertPredicate(predicate);
  return compile(predicate);
}

function compile(p: Predicate): MessageFilter {
  switch (p.op) {
    case 'and': {
      const children = p.predicates.map(compile);
      return (message) => children.every((child) => child(message));
    }
    case 'or': {
      const children = p.predicates.map(compile);
      return (message) => children.some((child) => child(message));
    }
    case 'not': {
      const child = compile(p.predicate);
      return (message) => !child(message);
    }
    case 'exists': {
      const read = reader(p.path);
      return (message) => read(message) !== undefined;
    }
    case 'range': {
      const read = reader(p.path);
      const { min, max } = p;
      const tag = typeTag(min);
      return (message) => {
        const field = read(message);
        return typeTag(field) === tag && (field as Ordered) >= min && (field as Ordered) <= max;
      };
    }
    case 'eq':
    case 'ne':
      return comparison(p.path, p.value, p.op === 'eq' ? (f, v) => f === v : (f, v) => f !== v);
    case 'gt':
      return comparison(p.path, p.value, (f, v) => (f as Ordered) > (v as Ordered));
    case 'gte':
      return comparison(p.path, p.value, (f, v) => (f as Ordered) >= (v as Ordered));
    case 'lt':
      return comparison(p.path, p.value, (f, v) => (f as Ordered) < (v as Ordered));
    case 'lte':
      return comparison(p.path, p.value, (f, v) => (f as Ordered) <= (v as Ordered));
  }
}

function comparison(path: string, value: Scalar, holds: (field: unknown, value: Scalar) => boolean): MessageFilter {
  const read = reader(path);
  const tag = typeTag(value);
  return (message) => {
    const field = read(message);
    return field !== undefined && typeTag(field) === tag && holds(field, value);
  };
}

function reader(path: string): (message: unknown) => unknown {
  const segments = path.split('.');
  if (segments.length === 1) {
    const key = segments[0] as string;
    return (message) =>
      typeof message === 'object' && message !== null && Object.hasOwn(message, key) ? (message as Record<string, unknown>)[key] : undefined;
  }
  return (message) => readPath(message, segments);
}
