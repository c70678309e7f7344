import { describe, expect, it } from 'vitest';
import { HeartbeatObserver } from '../src/internal/HeartbeatObserver.js';

describe('HeartbeatObserver', () => {
  const setUp = () => {
    const clock = { t: 1_000, now: () => clock.t };
    return { clock, observer: new HeartbeatObserver(2_000, clock) };
  };

  it('declares a member dead only once its counter has not moved for a whole lease of the local clock', () => {
    const { clock, observer } = setUp();
    expect(observer.observe(7, 3)).toBe('alive');
    clock.t += 1_999;
    expect(observer.observe(7, 3)).toBe('alive');
    clock.t += 1;
    expect(observer.observe(7, 3)).toBe('dead');
  });

  it('any change of the counter restarts the lease, whatever its value (no remote timestamps are compared)', () => {
    const { clock, observer } = setUp();
    observer.observe(7, 3);
    clock.t += 1_500;
    expect(observer.observe(7, 4)).toBe('alive');
    clock.t += 1_500;
    expect(observer.observe(7, 4)).toBe('alive');
    clock.t += 500;
    expect(observer.observe(7, 4)).toBe('dead');
  });

  it('gives a member that never beat a full lease from when it was first watched', () => {
    const { clock, observer } = setUp();
    expect(observer.observe(9, undefined)).toBe('alive');
    clock.t += 1_000;
    expect(observer.observe(9, undefined)).toBe('alive');
    clock.t += 1_000;
    expect(observer.observe(9, undefined)).toBe('dead');
  });

  it('judges a member from its first reading of the current value, however long ago (counters only grow)', () => {
    const { clock, observer } = setUp();
    observer.observe(7, 3);
    observer.observe(8, 1);
    clock.t += 2_500;
    expect(observer.observe(8, 1)).toBe('dead');
    expect(observer.observe(7, 3)).toBe('dead'); // not read since: still judged from the first reading
    expect(observer.observe(9, 0)).toBe('alive'); // never read before
  });

  it('forgets members that left', () => {
    const { clock, observer } = setUp();
    observer.observe(7, 3);
    observer.retain(new Set([8]));
    clock.t += 5_000;
    expect(observer.observe(7, 3)).toBe('alive');
  });
});
