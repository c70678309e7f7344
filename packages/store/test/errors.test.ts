import { describe, expect, it } from 'vitest';
import {
  CasConflictError,
  CheckFailedError,
  CommitConflictError,
  ConfigError,
  DecodeError,
  errorMessage,
  IndexedConflictError,
  InvalidArgumentError,
  LiminalError,
  SequenceConflictError,
  StoreClosedError,
  StoreCorruptError,
  StoreUnavailableError,
} from '@liminal/store';

describe('store errors', () => {
  it('are LiminalErrors with a stable code, their class name and public fields', () => {
    const cause = new Error('socket closed');
    const cases: [LiminalError, string, string, Record<string, unknown>][] = [
      [new SequenceConflictError('s', 1, 2), 'SEQUENCE_CONFLICT', 'SequenceConflictError', { stream: 's', expected: 1, actual: 2 }],
      [new CasConflictError('k', 3, 4), 'CAS_CONFLICT', 'CasConflictError', { key: 'k', expected: 3, actual: 4 }],
      [new InvalidArgumentError('limit', 'too small'), 'INVALID_ARGUMENT', 'InvalidArgumentError', { argument: 'limit', reason: 'too small' }],
      [new StoreClosedError(), 'STORE_CLOSED', 'StoreClosedError', {}],
      [new ConfigError('bad url'), 'CONFIG', 'ConfigError', { message: 'bad url' }],
      [new StoreCorruptError('not a database', { cause }), 'STORE_CORRUPT', 'StoreCorruptError', { cause }],
      [new DecodeError('truncated'), 'DECODE', 'DecodeError', { message: 'truncated' }],
      [new StoreUnavailableError('down', { cause }), 'STORE_UNAVAILABLE', 'StoreUnavailableError', { cause, ambiguous: false }],
      [new StoreUnavailableError('lost at COMMIT', { ambiguous: true }), 'STORE_UNAVAILABLE', 'StoreUnavailableError', { ambiguous: true }],
      [new CheckFailedError('epoch', 2, 3), 'CHECK_FAILED', 'CheckFailedError', { key: 'epoch', expected: 2, actual: 3 }],
      [
        new CommitConflictError(1, new CasConflictError('k', 0, 1)),
        'COMMIT_CONFLICT',
        'CommitConflictError',
        { index: 1, cause: { code: 'CAS_CONFLICT', key: 'k' } },
      ],
    ];
    for (const [error, code, name, fields] of cases) {
      expect(error).toBeInstanceOf(LiminalError);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ code, name, ...fields });
      expect(error.message.length).toBeGreaterThan(0);
    }
  });

  it('a commit conflict names the failed op by position and carries its conflict as cause', () => {
    const cause = new CasConflictError('k', 0, 1);
    const error = new CommitConflictError(2, cause);
    expect(error).toBeInstanceOf(IndexedConflictError);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('commit op 2 conflicted: counter "k": expected 0, but the stored value is 1');
  });

  it('errorMessage reports anything thrown on one line', () => {
    expect(errorMessage(new StoreClosedError())).toBe('the store is closed');
    expect(errorMessage('plain string')).toBe('plain string');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
