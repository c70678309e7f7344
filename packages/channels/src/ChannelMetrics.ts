import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InboxEvent } from './internal/Inbox.js';

export interface ChannelMetricsOptions {
  /** Registry to register on; default a fresh one (never prom-client's global registry). */
  readonly registry?: Registry;
  /** Metric name prefix, default `liminal_`. */
  readonly prefix?: string;
}

/** An XState actor whose state value is a conversation phase (e.g. `ConversationHandle.actor`). */
export interface PhaseSource {
  getSnapshot(): { readonly value: unknown };
  subscribe(next: (snapshot: { readonly value: unknown }) => void): { unsubscribe(): void };
}

/**
 * What the step latency histogram reads of a step: the shape of `StepEvent`
 * from @liminal/actors, stated here so channels do not depend on actors for a
 * type (a conversation's `onStep` observer can be `telemetry.onStep` as is).
 */
export type StepTiming = { readonly kind: 'completed' | 'failed'; readonly durationMs: number } | { readonly kind: 'replayed' };

/** Kinds of crash counted by `<prefix>crashes_total`. */
export type CrashKind = 'channel' | 'subscriber' | 'member';

/**
 * Prometheus instruments for channels and conversations, on their own
 * prom-client `Registry`. Channels record themselves; conversations (in
 * @liminal/actors or an application) report phases and step latencies through
 * `conversationPhase` and `observeStep`.
 */
export class ChannelMetrics {
  readonly registry: Registry;
  readonly #published: Counter<'channel'>;
  readonly #delivered: Counter<'channel'>;
  readonly #deferred: Counter<'channel'>;
  readonly #blocked: Counter<'channel'>;
  readonly #rejected: Counter<'channel' | 'reason'>;
  readonly #dropped: Counter<'channel'>;
  readonly #orphaned: Counter<'channel'>;
  readonly #restarts: Counter<'channel'>;
  readonly #crashes: Counter<'channel' | 'kind'>;
  readonly #reroutes: Counter<'channel' | 'group'>;
  readonly #phases: Gauge<'phase'>;
  readonly #stepLatency: Histogram<never>;
  #inboxDepths: () => Iterable<readonly [channel: string, depth: number]> = () => [];

  constructor(options: ChannelMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const prefix = options.prefix ?? 'liminal_';
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name: `${prefix}${name}`, help, labelNames, registers });
    this.#published = counter('channel_published_total', 'Messages accepted by a channel (stored, in durable mode).', ['channel']);
    this.#delivered = counter('channel_delivered_total', 'Deliveries started: a handler was called with a message.', ['channel']);
    this.#deferred = counter('channel_deferred_total', 'Deliveries buffered because the subscriber was at capacity.', ['channel']);
    this.#blocked = counter('channel_blocked_total', 'Publishes that waited for room in a full `block` inbox.', ['channel']);
    this.#rejected = counter('channel_rejected_total', 'Publishes refused: by a full `reject` inbox, the schema, or an empty consumer group.', ['channel', 'reason']);
    this.#dropped = counter('channel_dropped_total', 'Deliveries dropped by `dropOldest`, an unsubscribe or a close.', ['channel']);
    this.#orphaned = counter('channel_orphaned_total', 'Messages delivered flagged orphaned after their cause never arrived.', ['channel']);
    this.#restarts = counter('channel_restarts_total', 'Channel actor restarts by its supervisor.', ['channel']);
    this.#crashes = counter('crashes_total', 'Crashes: channel actors, subscriber handlers, consumer-group members.', ['channel', 'kind']);
    this.#reroutes = counter('group_reroutes_total', 'Messages handed to another member after a member crashed.', ['channel', 'group']);
    const depths = () => this.#inboxDepths();
    new Gauge({
      name: `${prefix}channel_inbox_depth`,
      help: 'Deliveries waiting in subscriber inboxes (buffered and blocked).',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const [channel, depth] of depths()) this.set({ channel }, depth);
      },
    });
    this.#phases = new Gauge({ name: `${prefix}conversation_phase`, help: 'Conversations currently in each phase.', labelNames: ['phase'], registers });
    this.#stepLatency = new Histogram({
      name: `${prefix}conversation_step_duration_seconds`,
      help: 'Time a participant took for one conversation step.',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
  }

  /** The Prometheus text exposition of every metric on the registry. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** A conversation moved from `from` (undefined when just created) to `to`. */
  conversationPhase(from: string | undefined, to: string): void {
    if (from === to) return;
    if (from !== undefined) this.#phases.dec({ phase: from });
    this.#phases.inc({ phase: to });
  }

  /**
   * Follows a conversation actor's phase into the phase gauge until the
   * returned function is called; the conversation stays counted in its last phase.
   */
  trackPhases(actor: PhaseSource): () => void {
    let phase = String(actor.getSnapshot().value);
    this.conversationPhase(undefined, phase);
    const subscription = actor.subscribe((snapshot) => {
      const next = String(snapshot.value);
      this.conversationPhase(phase, next);
      phase = next;
    });
    return () => subscription.unsubscribe();
  }

  /** One conversation step took `seconds`. */
  observeStep(seconds: number): void {
    this.#stepLatency.observe(seconds);
  }

  /**
   * A conversation's step observer: `openConversation({ ..., onStep: telemetry.onStep })`
   * feeds the step latency histogram with every step that ran (completed or
   * failed); steps replayed from a durable log ran earlier and are not timed again.
   */
  readonly onStep = (event: StepTiming): void => {
    if (event.kind !== 'replayed') this.observeStep(event.durationMs / 1000);
  };

  /** Starts timing a step; call the returned function when the step ends. */
  startStep(): () => void {
    return this.#stepLatency.startTimer();
  }

  /** @internal Wired by `ChannelRegistry`: where inbox depths are read at scrape time. */
  trackInboxDepths(source: () => Iterable<readonly [string, number]>): void {
    this.#inboxDepths = source;
  }

  /** @internal */
  published(channel: string): void {
    this.#published.inc({ channel });
  }

  /** @internal */
  inboxEvent(channel: string, event: InboxEvent): void {
    switch (event) {
      case 'started':
        return this.#delivered.inc({ channel });
      case 'deferred':
        return this.#deferred.inc({ channel });
      case 'blocked':
        return this.#blocked.inc({ channel });
      case 'rejected':
        return this.#rejected.inc({ channel, reason: 'backpressure' });
      case 'dropped':
        return this.#dropped.inc({ channel });
      case 'accepted':
        return;
    }
  }

  /** @internal */
  rejected(channel: string, reason: 'schema' | 'no_consumer'): void {
    this.#rejected.inc({ channel, reason });
  }

  /** @internal */
  orphaned(channel: string): void {
    this.#orphaned.inc({ channel });
  }

  /** @internal */
  restarted(channel: string): void {
    this.#restarts.inc({ channel });
  }

  /** @internal */
  crashed(channel: string, kind: CrashKind): void {
    this.#crashes.inc({ channel, kind });
  }

  /** @internal */
  rerouted(channel: string, group: string): void {
    this.#reroutes.inc({ channel, group });
  }
}
