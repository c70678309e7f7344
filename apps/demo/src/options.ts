import { InvalidArgumentError } from 'commander';

/** Option parsers for commander: each rejects with one line naming the bad value. */
export function positiveInteger(max: number): (value: string) => number {
  return (value) => {
    const n = strictInteger(value);
    if (n === undefined || n < 1 || n > max) throw new InvalidArgumentError(`expected an integer from 1 to ${max}.`);
    return n;
  };
}

export function nonNegativeInteger(value: string): number {
  const n = strictInteger(value);
  if (n === undefined || n < 0) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

/** A TCP port; 0 asks the system for a free one. */
export function port(value: string): number {
  const n = strictInteger(value);
  if (n === undefined || n < 0 || n > 65_535) throw new InvalidArgumentError('expected a port from 0 to 65535.');
  return n;
}

/** A probability in [0, 1): at 1 every attempt would crash and no order could ever finish. */
export function crashRate(value: string): number {
  const n = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number from 0 up to (not including) 1.');
  return n;
}

// Number('1e3'), Number('0x10') and parseInt('12abc') all accept more than a person means by an integer.
function strictInteger(value: string): number | undefined {
  if (!/^\s*-?\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}
