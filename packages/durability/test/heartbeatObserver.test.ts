import { describe, expect, it } from 'vitest';
import { HeartbeatObserver } from '../src/internal/HeartbeatObserver.js';

describe('HeartbeatObserver', () => {
  /** The defaults: a 2000 ms lease read every 1100 ms holds 2 readings. */
  const setUp = (missedReadings = 2) => {
    const clock = { t: 1_000, now: () => clock.t };
    return { clock, observer: new HeartbeatObserver(2_000, missedReadings, clock) };
  };

  it('declares a member dead only once its counter has not moved for a whole lease of the local clock', () => {
    const { clock, observer } = setUp();
    expect(observer.observe(7, 3)).toBe('alive');
    clock.t += 1_100;
    expect(observer.observe(7, 3)).toBe('alive');
    clock.t += 899;
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

  it('a single late reading after a long stall of the observer is no verdict: the member gets the readings a lease holds', () => {
    // The observer's own heartbeat write was blocked for 10 s (a saturated store delays every member's writes alike).
    const { clock, observer } = setUp();
    observer.observe(7, 3);
    clock.t += 10_000;
    expect(observer.observe(7, 3)).toBe('alive'); // one missed reading: the member's own write may still be queued
    clock.t += 1_100;
    expect(observer.observe(7, 4)).toBe('alive'); // it was
    clock.t += 10_000;
    expect(observer.observe(7, 4)).toBe('alive');
    clock.t += 1_100;
    expect(observer.observe(7, 4)).toBe('dead'); // two readings, 11 s: dead
  });

  it('counts readings as many as asked: with a 2000 ms lease and 50 ms beats, 40 of them', () => {
    const { clock, observer } = setUp(40);
    observer.observe(7, 3);
    clock.t += 5_000;
    for (let i = 1; i < 40; i++) expect(observer.observe(7, 3)).toBe('alive');
    expect(observer.observe(7, 3)).toBe('dead');
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
    expect(observer.observe(8, 1)).toBe('alive');
    expect(observer.observe(8, 1)).toBe('dead');
    expect(observer.observe(7, 3)).toBe('alive'); // not read since its first reading: one reading more to go
    expect(observer.observe(7, 3)).toBe('dead');
    expect(observer.observe(9, 0)).toBe('alive'); // never read before
  });

  it('after restart, judges every member from its next reading: readings from before an outage are no verdict', () => {
    const { clock, observer } = setUp();
    observer.observe(7, 3);
    clock.t += 1_100;
    observer.observe(7, 3); // one miss before the outage
    clock.t += 30_000; // the store was down for 15 leases
    observer.restart();
    expect(observer.observe(7, 3)).toBe('alive'); // the new first reading: 7 may not be back yet
    expect(observer.observe(7, 3)).toBe('alive');
    expect(observer.observe(7, 3)).toBe('alive'); // two misses, but no time of a lease since the outage
    clock.t += 2_000;
    expect(observer.observe(7, 3)).toBe('dead'); // a whole lease after the outage and still no beat
  });

  it('forgets members that left', () => {
    const { clock, observer } = setUp();
    observer.observe(7, 3);
    observer.retain(new Set([8]));
    clock.t += 5_000;
    expect(observer.observe(7, 3)).toBe('alive');
    expect(observer.observe(7, 3)).toBe('alive');
  });
});
