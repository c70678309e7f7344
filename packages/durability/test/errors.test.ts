import { LiminalError } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { CursorRegressionError, DedupCollisionError, InFlightError } from '../src/index.js';

describe('durability errors', () => {
  it('are LiminalErrors with a stable code, their class name and public fields', () => {
    const cases: [LiminalError, Record<string, unknown>][] = [
      [new DedupCollisionError('k', 'hashCollision'), { code: 'DEDUP_COLLISION', name: 'DedupCollisionError', key: 'k', reason: 'hashCollision' }],
      [
        new CursorRegressionError('c:ch:0', 5, 3),
        { code: 'CURSOR_REGRESSION', name: 'CursorRegressionError', cursorKey: 'c:ch:0', stored: 5, attempted: 3 },
      ],
      [new InFlightError('orders:published', 'charge-1'), { code: 'IN_FLIGHT', name: 'InFlightError', namespace: 'orders:published', key: 'charge-1' }],
    ];
    for (const [error, fields] of cases) {
      expect(error).toBeInstanceOf(LiminalError);
      expect(error).toMatchObject(fields);
    }
  });
});
