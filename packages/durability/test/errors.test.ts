import { CasConflictError, CheckFailedError, CommitConflictError, IndexedConflictError, LiminalError } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import * as durability from '../src/index.js';

const { ClaimLostError, ConditionFailedError, CursorRegressionError, DedupCollisionError, EffectConflictError, EffectTxClosedError } = durability;

describe('durability errors', () => {
  it('are LiminalErrors with a stable code, their class name and public fields', () => {
    const cases: [LiminalError, Record<string, unknown>][] = [
      [new DedupCollisionError('k', 'hashCollision'), { code: 'DEDUP_COLLISION', name: 'DedupCollisionError', key: 'k', reason: 'hashCollision' }],
      [
        new CursorRegressionError('c:ch:0', 5, 3),
        { code: 'CURSOR_REGRESSION', name: 'CursorRegressionError', cursorKey: 'c:ch:0', stored: 5, attempted: 3 },
      ],
      [new ClaimLostError('payments', 'charge-1'), { code: 'CLAIM_LOST', name: 'ClaimLostError', namespace: 'payments', key: 'charge-1' }],
      [new ConditionFailedError(1, new CheckFailedError('epoch', 2, 3)), { code: 'CONDITION_FAILED', name: 'ConditionFailedError', index: 1 }],
      [new EffectConflictError(0, new CasConflictError('n', 1, 2)), { code: 'EFFECT_CONFLICT', name: 'EffectConflictError', index: 0 }],
      [new EffectTxClosedError('orders/billing/m1'), { code: 'EFFECT_TX_CLOSED', name: 'EffectTxClosedError', idempotencyKey: 'orders/billing/m1' }],
    ];
    for (const [error, fields] of cases) {
      expect(error).toBeInstanceOf(LiminalError);
      expect(error).toMatchObject(fields);
    }
  });

  it('processOnce conflicts name the caller\'s condition or effect, and are not store commit conflicts', () => {
    const condition = new ConditionFailedError(1, new CheckFailedError('epoch', 2, 3));
    const effect = new EffectConflictError(0, new CasConflictError('n', 1, 2));
    for (const error of [condition, effect]) {
      expect(error).toBeInstanceOf(IndexedConflictError);
      expect(error).not.toBeInstanceOf(CommitConflictError);
    }
    expect(condition.message).toBe('processOnce condition 1 failed: counter "epoch": expected it to equal 2, but the stored value is 3');
    expect(effect.message).toBe('effect 0 conflicted: counter "n": expected 1, but the stored value is 2');
  });
});
