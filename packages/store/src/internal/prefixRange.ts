/**
 * The exclusive upper bound of all strings starting with `prefix`, in code
 * point order, or `undefined` when there is none (empty prefix, or a prefix of
 * only U+10FFFF). Adapters turn a prefix into the index range
 * `prefix <= name < bound` instead of `LIKE`, so `%`, `_` and `\` in a prefix
 * are plain characters and the lookup stays an index seek.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = [...prefix].map((char) => char.codePointAt(0) ?? 0);
  while (codePoints.length > 0) {
    const last = codePoints.pop() ?? 0;
    if (last < 0x10ffff) {
      // Surrogates are not characters: the successor of U+D7FF is U+E000.
      codePoints.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...codePoints);
    }
  }
  return undefined;
}
