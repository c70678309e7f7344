import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { crashRate, nonNegativeInteger, positiveInteger } from '../src/options.js';
import { parseStoreUrl } from '../src/storeUrl.js';
import { UsageError } from '../src/errors.js';

describe('option parsers', () => {
  it('accept plain integers in range', () => {
    expect(positiveInteger(100)('42')).toBe(42);
    expect(nonNegativeInteger('0')).toBe(0);
    expect(crashRate('0.25')).toBe(0.25);
    expect(crashRate('0')).toBe(0);
  });

  it.each(['-3', '0', '1e3', '0x10', '1.5', '', 'abc', '101', '99999999999999999999'])('reject %j as a positive integer up to 100', (value) => {
    expect(() => positiveInteger(100)(value)).toThrow(InvalidArgumentError);
  });

  it.each(['1', '1.5', '-0.1', 'NaN', 'abc', ''])('reject crash rate %j (must be in [0, 1))', (value) => {
    expect(() => crashRate(value)).toThrow(InvalidArgumentError);
  });
});

describe('store URLs', () => {
  it('default to the public schema-less form: sqlite paths resolve, postgres keeps its schema apart', () => {
    expect(parseStoreUrl('sqlite:/tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(parseStoreUrl('/tmp/y.db')).toEqual({ kind: 'sqlite', path: '/tmp/y.db' });
    expect(parseStoreUrl('postgres://u@h:5432/db?schema=abc')).toEqual({ kind: 'postgres', connectionString: 'postgres://u@h:5432/db', schema: 'abc' });
    expect(parseStoreUrl('postgres://u@h/db')).toMatchObject({ schema: 'liminal_demo' });
  });

  it.each(['memory:', 'mysql://h/db', 'postgres://u@h/db?schema=a;drop', 'sqlite:'])('reject %j with a usage error', (url) => {
    expect(() => parseStoreUrl(url)).toThrow(UsageError);
  });
});
