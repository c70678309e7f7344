/**
 * The parts of a name `storeKey` built, unescaped (a number part comes back
 * as its decimal text), or `undefined` when `name` is not such a name (a `%`
 * that is not `%25` or `%2F`, or an empty part). For tools that list a store
 * and must tell, say, a cursor's consumer from its channel: the inverse of
 * `storeKey`, so `storeKey(...parseStoreKey(k)) === k` for every key it accepts.
 */
export function parseStoreKey(name: string): string[] | undefined {
  const parts = name.split('/');
  const decoded: string[] = [];
  for (const part of parts) {
    if (part.length === 0 || /%(?!25|2F)/.test(part)) return undefined;
    decoded.push(part.replace(/%2F|%25/g, (escape) => (escape === '%2F' ? '/' : '%')));
  }
  return decoded;
}
