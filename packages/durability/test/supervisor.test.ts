import { ManualClock } from '@liminal/testkit';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createActor, createMachine, type AnyActorRef, type InspectionEvent } from 'xstate';
import {
  createSupervisor,
  supervisionEvent,
  SupervisorEscalationError,
  type ChildSpec,
  type RestartType,
  type SupervisorEvent,
} from '../src/index.js';

/** A child that records each start, crashes on `crash` and finishes normally on `finish`. */
function child(id: string, starts: string[], restart?: RestartType): ChildSpec {
  const logic = createMachine({
    entry: () => void starts.push(id),
    initial: 'running',
    states: {
      running: {
        on: {
          crash: {
            actions: () => {
              throw new Error(`${id} crashed`);
            },
          },
          finish: 'done',
        },
      },
      done: { type: 'final' },
    },
  });
  return restart === undefined ? { id, logic } : { id, logic, restart };
}

function childOf(ref: AnyActorRef, ...path: string[]): AnyActorRef {
  let current = ref;
  for (const id of path) {
    const next = (current.getSnapshot() as { children: Record<string, AnyActorRef | undefined> }).children[id];
    if (next === undefined) throw new Error(`no child ${path.join('/')}`);
    current = next;
  }
  return current;
}

const runningChildren = (ref: AnyActorRef) => Object.keys((ref.getSnapshot() as { children: Record<string, unknown> }).children).sort();

function start(logic: ReturnType<typeof createSupervisor>) {
  const inspected: SupervisorEvent[] = [];
  const emitted: SupervisorEvent[] = [];
  const errors: unknown[] = [];
  const actor = createActor(logic, {
    id: 'root',
    inspect: (event: InspectionEvent) => {
      const supervision = supervisionEvent(event);
      if (supervision !== undefined) inspected.push(supervision);
    },
  });
  actor.on('*', (event) => emitted.push(event));
  actor.subscribe({ error: (error) => errors.push(error) });
  actor.start();
  return { actor, inspected, emitted, errors };
}

const summary = (events: SupervisorEvent[]) =>
  events.map((event) => `${event.type.replace('supervisor.', '')}:${event.child}${event.type === 'supervisor.restart' ? `<-${event.cause}` : ''}`);

describe('restart strategies', () => {
  it('oneForOne restarts only the crashed child', () => {
    const starts: string[] = [];
    const { actor, emitted, inspected } = start(
      createSupervisor({ strategy: 'oneForOne', children: [child('a', starts), child('b', starts), child('c', starts)] }),
    );
    childOf(actor, 'b').send({ type: 'crash' });
    expect(starts).toEqual(['a', 'b', 'c', 'b']);
    expect(summary(emitted)).toEqual(['crash:b', 'restart:b<-b']);
    expect(inspected).toEqual(emitted);
    expect(runningChildren(actor)).toEqual(['a', 'b', 'c']);
  });

  it('oneForAll restarts every child, in start order', () => {
    const starts: string[] = [];
    const { actor, emitted } = start(
      createSupervisor({ strategy: 'oneForAll', children: [child('a', starts), child('b', starts), child('c', starts)] }),
    );
    const oldA = childOf(actor, 'a');
    childOf(actor, 'b').send({ type: 'crash' });
    expect(starts).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(summary(emitted)).toEqual(['crash:b', 'restart:a<-b', 'restart:b<-b', 'restart:c<-b']);
    expect((oldA.getSnapshot() as { status: string }).status).toBe('stopped');
    expect(childOf(actor, 'a')).not.toBe(oldA);
  });

  it('restForOne restarts the crashed child and those started after it', () => {
    const starts: string[] = [];
    const { actor, emitted } = start(
      createSupervisor({ strategy: 'restForOne', children: [child('a', starts), child('b', starts), child('c', starts)] }),
    );
    const oldA = childOf(actor, 'a');
    childOf(actor, 'b').send({ type: 'crash' });
    expect(starts).toEqual(['a', 'b', 'c', 'b', 'c']);
    expect(summary(emitted)).toEqual(['crash:b', 'restart:b<-b', 'restart:c<-b']);
    expect(childOf(actor, 'a')).toBe(oldA);
  });
});

describe('restart types', () => {
  it('permanent restarts after a crash and after a normal exit', () => {
    const starts: string[] = [];
    const { actor, emitted } = start(createSupervisor({ strategy: 'oneForOne', children: [child('p', starts, 'permanent')] }));
    childOf(actor, 'p').send({ type: 'finish' });
    childOf(actor, 'p').send({ type: 'crash' });
    expect(starts).toEqual(['p', 'p', 'p']);
    expect(summary(emitted)).toEqual(['exit:p', 'restart:p<-p', 'crash:p', 'restart:p<-p']);
  });

  it('transient restarts after a crash but not after a normal exit', () => {
    const starts: string[] = [];
    const { actor, emitted } = start(createSupervisor({ strategy: 'oneForOne', children: [child('t', starts, 'transient')] }));
    childOf(actor, 't').send({ type: 'crash' });
    expect(starts).toEqual(['t', 't']);
    childOf(actor, 't').send({ type: 'finish' });
    expect(starts).toEqual(['t', 't']);
    expect(summary(emitted)).toEqual(['crash:t', 'restart:t<-t', 'exit:t']);
    expect(runningChildren(actor)).toEqual([]);
  });

  it('temporary is never restarted, not even when a sibling crash restarts the others', () => {
    const starts: string[] = [];
    const { actor, emitted } = start(
      createSupervisor({ strategy: 'oneForAll', children: [child('tmp', starts, 'temporary'), child('perm', starts)] }),
    );
    childOf(actor, 'perm').send({ type: 'crash' });
    expect(starts).toEqual(['tmp', 'perm', 'perm']);
    expect(runningChildren(actor)).toEqual(['perm']);
    expect(summary(emitted)).toEqual(['crash:perm', 'restart:perm<-perm']);

    const again: string[] = [];
    const single = start(createSupervisor({ strategy: 'oneForOne', children: [child('tmp', again, 'temporary')] }));
    childOf(single.actor, 'tmp').send({ type: 'crash' });
    expect(again).toEqual(['tmp']);
    expect(summary(single.emitted)).toEqual(['crash:tmp']);
    expect(runningChildren(single.actor)).toEqual([]);
  });
});

describe('restart intensity', () => {
  it('more than `intensity` restarts within periodMs stops the children and escalates', () => {
    const starts: string[] = [];
    const clock = new ManualClock();
    const { actor, emitted, inspected, errors } = start(
      createSupervisor({ strategy: 'oneForOne', intensity: 2, periodMs: 1000, now: () => clock.now(), children: [child('w', starts), child('other', starts)] }),
    );
    const other = childOf(actor, 'other');
    for (let crash = 0; crash < 3; crash++) {
      childOf(actor, 'w').send({ type: 'crash' });
      clock.advance(100);
    }
    expect(starts).toEqual(['w', 'other', 'w', 'w']);
    expect(summary(emitted)).toEqual(['crash:w', 'restart:w<-w', 'crash:w', 'restart:w<-w', 'crash:w', 'escalate:w']);
    expect(inspected).toEqual(emitted);
    expect(actor.getSnapshot().status).toBe('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SupervisorEscalationError);
    expect(errors[0]).toMatchObject({ code: 'SUPERVISOR_ESCALATED', child: 'w', intensity: 2, periodMs: 1000 });
    expect((other.getSnapshot() as { status: string }).status).toBe('stopped');
  });

  it('restarts spread wider than periodMs never escalate', () => {
    const starts: string[] = [];
    const clock = new ManualClock();
    const { actor, errors } = start(createSupervisor({ strategy: 'oneForOne', intensity: 2, periodMs: 1000, now: () => clock.now(), children: [child('w', starts)] }));
    for (let crash = 0; crash < 8; crash++) {
      childOf(actor, 'w').send({ type: 'crash' });
      clock.advance(600);
    }
    expect(starts).toHaveLength(9);
    expect(actor.getSnapshot().status).toBe('active');
    expect(errors).toEqual([]);
  });

  it('defaults to 3 restarts in 5000 ms, timed by Date.now', () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    onTestFinished(() => void vi.useRealTimers());
    const starts: string[] = [];
    const { actor, errors } = start(createSupervisor({ strategy: 'oneForOne', children: [child('w', starts)] }));
    for (let crash = 0; crash < 3; crash++) childOf(actor, 'w').send({ type: 'crash' });
    expect(actor.getSnapshot().status).toBe('active');
    vi.setSystemTime(1_000_000 + 4999);
    childOf(actor, 'w').send({ type: 'crash' });
    expect(errors).toHaveLength(1);
  });

  it('rejects a bad configuration with ConfigError', () => {
    expect(() => createSupervisor({ strategy: 'oneForOne', intensity: -1, children: [] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForOne', periodMs: 0, children: [] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForOne', children: [child('x', []), child('x', [])] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForSome' as 'oneForOne', children: [] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForOne', children: [child('x', [], 'sometimes' as 'permanent')] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForOne', children: [{ id: '', logic: child('x', []).logic }] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForOne', children: {} as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => createSupervisor({ strategy: 'oneForOne', now: 5 as never, children: [] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('nested supervisors', () => {
  it('an inner supervisor that escalates is restarted by its parent; the parent escalates in turn', () => {
    const starts: string[] = [];
    const clock = new ManualClock();
    const inner = createSupervisor({ strategy: 'oneForOne', intensity: 1, periodMs: 1000, now: () => clock.now(), children: [child('worker', starts)] });
    const { actor, inspected, emitted, errors } = start(
      createSupervisor({ strategy: 'oneForOne', intensity: 1, periodMs: 10_000, now: () => clock.now(), children: [{ id: 'inner', logic: inner }, child('sibling', starts)] }),
    );
    const crashWorker = () => childOf(actor, 'inner', 'worker').send({ type: 'crash' });
    crashWorker(); // inner restarts worker
    crashWorker(); // inner exceeds its intensity and escalates; outer restarts inner
    expect(starts).toEqual(['worker', 'sibling', 'worker', 'worker']);
    expect(actor.getSnapshot().status).toBe('active');
    expect(summary(emitted)).toEqual(['crash:inner', 'restart:inner<-inner']);
    // Inspection sees every supervisor in the system, the inner one included.
    expect(inspected.map((event) => `${event.supervisor}/${summary([event])[0]}`)).toEqual([
      'inner/crash:worker',
      'inner/restart:worker<-worker',
      'inner/crash:worker',
      'inner/escalate:worker',
      'root/crash:inner',
      'root/restart:inner<-inner',
    ]);

    crashWorker();
    crashWorker(); // the new inner escalates again: the outer's second restart exceeds its intensity
    expect(actor.getSnapshot().status).toBe('error');
    expect(errors[0]).toMatchObject({ code: 'SUPERVISOR_ESCALATED', child: 'inner' });
    expect((errors[0] as SupervisorEscalationError).cause).toMatchObject({ code: 'SUPERVISOR_ESCALATED', child: 'worker' });
  });
});
