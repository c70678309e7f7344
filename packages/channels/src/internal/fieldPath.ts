/** What a dotted path resolves to; `undefined` means the field is missing. */
export function readPath(message: unknown, segments: readonly string[]): unknown {
  let current = message;
  for (const segment of segments) {
    // Own properties only: a path like `constructor.name` must not reach the prototype.
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** The type tag comparisons are checked against: `null` is its own type, unlike `typeof`. */
export function typeTag(value: unknown): string {
  return value === null ? 'null' : typeof value;
}
