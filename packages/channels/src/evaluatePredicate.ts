import type { Ordered, Predicate } from './Predicate.js';
import { assertPredicate } from './Predicate.js';
import { readPath, typeTag } from './internal/fieldPath.js';

/**
 * Interprets a predicate against one message, walking the predicate tree on
 * every call. It is the reference semantics `compilePredicate` must agree with;
 * use the compiled form on hot paths.
 */
export function evaluatePredicate(predicate: Predicate, message: unknown): boolean {
  assertPredicate(predicate);
  return interpret(predicate, message);
}

function interpret(p: Predicate, message: unknown): boolean {
  switch (p.op) {
    case 'and':
      return p.predicates.every((child) => interpret(child, message));
    case 'or':
      return p.predicates.some((child) => interpret(child, message));
    case 'not':
      return !interpret(p.predicate, message);
    case 'exists':
      return readPath(message, p.path.split('.')) !== undefined;
    case 'range': {
      const field = readPath(message, p.path.split('.'));
      return typeTag(field) === typeTag(p.min) && (field as Ordered) >= p.min && (field as Ordered) <= p.max;
    }
    default: {
      const field = readPath(message, p.path.split('.'));
      if (field === undefined || typeTag(field) !== typeTag(p.value)) return false;
      const f = field as number;
      const v = p.value as number;
      switch (p.op) {
        case 'eq':
          return f === v;
        case 'ne':
          return f !== v;
        case 'gt':
          return f > v;
        case 'gte':
          return f >= v;
        case 'lt':
          return f < v;
        case 'lte':
          return f <= v;
      }
    }
  }
}
