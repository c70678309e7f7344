import { ConfigError, InvalidArgumentError, type LiminalError, assertName, assertNonNegativeSafeInteger, assertPositiveSafeInteger } from '@liminal/store';
import { createSupervisor, messageIdFor, newMessageId, SupervisorEscalationError } from '@liminal/durability';
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import type { ChannelHandle } from '../ChannelHandle.js';
import type { ChannelMetrics } from '../ChannelMetrics.js';
import type { Clock } from '../Clock.js';
import { compilePredicate } from '../compilePredicate.js';
import { type ConsumerGroup, type ConsumerGroupOptions, GroupRoute } from '../ConsumerGroup.js';
import { BackpressureError, ChannelClosedError, DeliveryFailedError, NoConsumerAvailableError, SchemaMismatchError } from '../errors.js';
import type {
  ChannelMode,
  ChannelState,
  ChannelStats,
  Delivery,
  Handler,
  InboxOptions,
  JsonSchema,
  PublishOptions,
  PublishResult,
  RestartPolicy,
  SubscribeOptions,
  SubscriptionStats,
  Unsubscribe,
} from '../types.js';
import type { InboxEvent, InboxLimits } from './Inbox.js';
import type { AppendOptions, ChannelRecord, LogWrite, MessageLog } from './MessageLog.js';
import { DurableLog } from './DurableLog.js';
import { type DurableSubscribeOptions, type DurableSubscription, subscribeDurable } from '../DurableSubscription.js';
import { MessageSchema } from './MessageSchema.js';
import { Queue } from './Queue.js';
import { RecentIds } from './RecentIds.js';
import type { Route } from './Route.js';
import { SubscriberRoute } from './SubscriberRoute.js';
import { type ChannelWork, channelActor } from './channelActor.js';
import { assertHandler } from './assertHandler.js';
import { startPublishSpan } from './tracing.js';

export interface ChannelDeps {
  readonly name: string;
  readonly mode: ChannelMode;
  readonly partitions: number;
  readonly schema: JsonSchema | undefined;
  readonly log: MessageLog;
  readonly metrics: ChannelMetrics;
  readonly clock: Clock;
  readonly restartPolicy: RestartPolicy;
  readonly causalTimeoutMs: number;
  /** Called once the channel is closed, so the registry can forget it. */
  readonly onClosed: () => void;
}

type Status = { readonly kind: 'open' } | { readonly kind: 'closed' } | { readonly kind: 'failed'; readonly error: DeliveryFailedError };

interface PublishJob {
  readonly kind: 'publish';
  readonly record: ChannelRecord;
  readonly options: AppendOptions;
  /** Set once the log accepted the record, so a restarted actor never writes it twice. */
  written?: Exclude<LogWrite, { kind: 'refused' }>;
  readonly resolve: (result: PublishResult) => void;
  readonly reject: (error: unknown) => void;
}

/** A held message whose cause never came: deliver it, flagged orphaned. */
interface ReleaseJob {
  readonly kind: 'release';
  readonly delivery: Delivery;
}

interface Held {
  readonly delivery: Delivery;
  readonly timer: unknown;
}

/** Ids of delivered messages remembered for causal ordering; older ones are forgotten. */
const REMEMBERED_DELIVERIES = 10_000;
const DEFAULT_BUFFER = 1024;

/**
 * A channel: its subscriptions, queue and causal holds live here, outside the
 * channel actor, so the actor can crash and be restarted by its supervisor
 * without a subscriber noticing. Everything that enters an inbox goes through
 * the actor's drain loop, one message at a time, which keeps per-partition
 * order and makes the backpressure pre-check race-free.
 */
export class Channel<T> implements ChannelHandle<T>, ChannelWork {
  readonly name: string;
  readonly mode: ChannelMode;
  readonly partitions: number;
  #status: Status = { kind: 'open' };
  #schema: MessageSchema | undefined;
  readonly #queue = new Queue<PublishJob | ReleaseJob>();
  // Keyed `sub:<id>` and `group:<name>`, so a subscription name can never shadow a group.
  readonly #routes = new Map<string, Route>();
  readonly #delivered = new RecentIds(REMEMBERED_DELIVERIES);
  readonly #held = new Map<string, Held[]>();
  readonly #stats: { -readonly [K in keyof ChannelStats]: number } = {
    published: 0,
    delivered: 0,
    deferred: 0,
    blocked: 0,
    rejected: 0,
    dropped: 0,
    schemaRejected: 0,
    held: 0,
    orphaned: 0,
    duplicates: 0,
    restarts: 0,
    crashes: 0,
    handlerErrors: 0,
    reroutes: 0,
    undeliverable: 0,
  };
  #subscriptionCount = 0;
  #draining: Promise<void> | undefined;
  /** The drain loop is running and will see anything queued now: no need to wake the actor. */
  #drainActive = false;
  readonly #supervisor: Actor<ReturnType<typeof createSupervisor>>;

  constructor(private readonly deps: ChannelDeps) {
    this.name = deps.name;
    this.mode = deps.mode;
    this.partitions = deps.partitions;
    this.#schema = deps.schema === undefined ? undefined : new MessageSchema(deps.name, deps.schema);
    // One supervisor per channel, so one channel's crashes and spent budget
    // never restart or stop another channel.
    const supervisor = createSupervisor({
      strategy: 'oneForOne',
      intensity: deps.restartPolicy.maxRestarts,
      periodMs: deps.restartPolicy.withinMs,
      now: () => deps.clock.now(),
      children: [{ id: 'channel', logic: channelActor, input: { work: this } }],
    });
    this.#supervisor = createActor(supervisor, { id: `channel:${deps.name}` });
    this.#supervisor.on('supervisor.crash', () => {
      this.#stats.crashes += 1;
      this.deps.metrics.crashed(this.name, 'channel');
    });
    this.#supervisor.on('supervisor.restart', () => {
      this.#stats.restarts += 1;
      this.deps.metrics.restarted(this.name);
    });
    // Escalation (budget spent) fails the supervisor; so would a bug in it.
    // Either way publishers must get an error, not wait forever.
    this.#supervisor.subscribe({
      error: (error) => this.#giveUp(error instanceof SupervisorEscalationError ? error.cause : error),
    });
    this.#supervisor.start();
  }

  get state(): ChannelState {
    return this.#status.kind;
  }

  /** Inbox depth summed over subscriptions, for the metrics gauge. */
  get depth(): number {
    let depth = 0;
    for (const route of this.#routes.values()) depth += route.inbox.depth;
    return depth;
  }

  /** Live subscriptions plus live group members. */
  get receivers(): number {
    let receivers = 0;
    for (const route of this.#routes.values()) receivers += route.receivers;
    return receivers;
  }

  async publish(message: T, options: PublishOptions = {}): Promise<PublishResult> {
    this.#assertUsable();
    assertPublishOptions(options);
    if (options.deliverAt !== undefined && this.mode !== 'durable') {
      throw new InvalidArgumentError('options.deliverAt', `channel ${JSON.stringify(this.name)} is ephemeral: only durable channels store messages to deliver later`);
    }
    const payload = this.#validate(message);
    if (this.mode === 'durable') assertEncodable(payload);
    const span = startPublishSpan(this.name, options.traceparent);
    const record: ChannelRecord = {
      // The repo's one id scheme: an idempotent publish's id is derived from its key (as the durable log derives it).
      messageId: options.messageId ?? (options.idempotencyKey === undefined ? newMessageId() : messageIdFor(this.name, options.idempotencyKey)),
      message: payload,
      ...(options.causationId === undefined ? {} : { causationId: options.causationId }),
      traceparent: span.traceparent,
      publishedAt: this.deps.clock.now(),
    };
    const append: AppendOptions = {
      ...(options.key === undefined ? {} : { key: options.key }),
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      ...(options.deliverAt === undefined ? {} : { deliverAt: options.deliverAt }),
    };
    return new Promise<PublishResult>((resolve, reject) => {
      this.#queue.push({
        kind: 'publish',
        record,
        options: append,
        resolve: (result) => {
          span.end();
          resolve(result);
        },
        reject: (error) => {
          span.end(error);
          reject(error);
        },
      });
      this.#wake();
    });
  }

  subscribe(handler: Handler<T>, options: SubscribeOptions<T> = {}): Unsubscribe {
    this.#assertUsable();
    assertHandler('handler', handler);
    if (options.onError !== undefined) assertHandler('options.onError', options.onError);
    const limits = inboxLimits(options);
    const filter = options.filter === undefined ? undefined : compilePredicate(options.filter);
    this.#subscriptionCount += 1;
    const id = options.name ?? `sub-${this.#subscriptionCount}`;
    const key = `sub:${id}`;
    if (this.#routes.has(key)) throw new InvalidArgumentError('options.name', `subscription ${JSON.stringify(id)} already exists`);
    const route = new SubscriberRoute(this.name, id, filter, limits, handler, options.onError, {
      inbox: (event) => this.#inboxEvent(event),
      handlerFailed: () => {
        this.#stats.handlerErrors += 1;
        this.deps.metrics.crashed(this.name, 'subscriber');
      },
    });
    this.#routes.set(key, route);
    return () => {
      if (this.#routes.get(key) !== route) return;
      this.#routes.delete(key);
      route.inbox.close();
    };
  }

  async subscribeDurable(group: string, handler: Handler<T>, options: DurableSubscribeOptions<T> = {}): Promise<DurableSubscription> {
    this.#assertUsable();
    const { log } = this.deps;
    if (!(log instanceof DurableLog)) throw new ConfigError(`channel ${JSON.stringify(this.name)} is ephemeral: only durable channels have stored messages to subscribe to`);
    // Scheduled messages fall due on the registry's clock unless the subscriber brings its own.
    return subscribeDurable(log.channel, group, handler, { wallClock: this.deps.clock, ...options }, {
      handlerFailed: () => {
        this.#stats.handlerErrors += 1;
        this.deps.metrics.crashed(this.name, 'subscriber');
      },
    });
  }

  group(name: string, options: ConsumerGroupOptions = {}): ConsumerGroup<T> {
    this.#assertUsable();
    assertName('name', name);
    const existing = this.#routes.get(`group:${name}`);
    if (existing !== undefined) return existing as GroupRoute<T>;
    const { capacity, ...limits } = inboxLimits({ ...options, capacity: options.capacityPerMember ?? 1 });
    const filter = options.filter === undefined ? undefined : compilePredicate(options.filter);
    const group = new GroupRoute<T>(this.name, name, filter, { ...limits, capacityPerMember: capacity as number }, {
      inbox: (event) => this.#inboxEvent(event),
      memberCrashed: () => {
        this.#stats.handlerErrors += 1;
        this.deps.metrics.crashed(this.name, 'member');
      },
      rerouted: (groupName) => {
        this.#stats.reroutes += 1;
        this.deps.metrics.rerouted(this.name, groupName);
      },
      undeliverable: () => this.#countUndeliverable(),
    });
    this.#routes.set(`group:${name}`, group);
    return group;
  }

  evolveSchema(schema: JsonSchema): void {
    this.#assertUsable();
    this.#schema = this.#schema === undefined ? new MessageSchema(this.name, schema) : this.#schema.evolve(schema);
  }

  stats(): ChannelStats {
    return { ...this.#stats };
  }

  subscriptions(): SubscriptionStats[] {
    return [...this.#routes.values()].map((route) => route.stats());
  }

  async close(): Promise<void> {
    if (this.#status.kind === 'closed') return;
    this.#status = { kind: 'closed' };
    this.#dropHeld();
    for (const route of this.#routes.values()) route.inbox.close();
    this.#routes.clear();
    // Let the message being written finish; the drain loop stops after it.
    await this.#draining?.catch(() => undefined);
    this.#settleQueued(new ChannelClosedError(this.name));
    this.#supervisor.stop();
    this.deps.onClosed();
  }

  // ---- ChannelWork: called by the channel actor ----

  hasWork(): boolean {
    return this.#status.kind === 'open' && this.#queue.length > 0;
  }

  recover(): Promise<void> {
    return this.deps.log.recover();
  }

  drain(): Promise<void> {
    const run = this.#drainQueue();
    this.#draining = run;
    return run;
  }

  #giveUp(cause: unknown): void {
    if (this.#status.kind !== 'open') return;
    const failure = new DeliveryFailedError(this.name, this.#stats.restarts, { cause });
    this.#status = { kind: 'failed', error: failure };
    this.#dropHeld();
    this.#settleQueued(failure);
  }

  // ---- delivery ----

  async #drainQueue(): Promise<void> {
    this.#drainActive = true;
    try {
      for (let job = this.#queue.peek(); job !== undefined && this.#status.kind === 'open'; job = this.#queue.peek()) {
        if (job.kind === 'publish') await this.#process(job);
        else void this.#deliver(job.delivery);
        this.#queue.shift();
      }
    } finally {
      // Cleared in the same tick the loop sees an empty queue, so a publish
      // after this point wakes the actor (which re-checks for work on `ready`).
      this.#drainActive = false;
    }
  }

  async #process(job: PublishJob): Promise<void> {
    if (job.written === undefined) {
      // A scheduled message is for durable subscribers only: live inboxes and groups have no say in it.
      const refusal = job.options.deliverAt === undefined ? this.#refusal(job.record) : undefined;
      if (refusal !== undefined) return job.reject(refusal);
      const write = this.deps.log.append(job.record, job.options);
      const written = write instanceof Promise ? await write : write;
      if (written.kind === 'refused') return job.reject(written.error);
      job.written = written;
    }
    const written = job.written;
    if (written.kind === 'duplicate') {
      this.#stats.duplicates += 1;
      return job.resolve({ ...coordinates(written.messageId, written), delivered: 0, held: false, duplicate: true });
    }
    this.#stats.published += 1;
    this.deps.metrics.published(this.name);
    // Stored for later: its durable subscribers get it when it is due; live ones never (it is not "now").
    if (written.kind === 'scheduled') return job.resolve({ ...coordinates(job.record.messageId, written), delivered: 0, held: false, duplicate: false });
    const { record } = job;
    const delivery: Delivery = {
      channel: this.name,
      message: record.message,
      messageId: record.messageId,
      partition: written.partition,
      ...(written.sequence === undefined ? {} : { sequence: written.sequence }),
      ...(record.causationId === undefined ? {} : { causationId: record.causationId }),
      orphaned: false,
      traceparent: record.traceparent,
      publishedAt: record.publishedAt,
    };
    const base = coordinates(record.messageId, written);
    if (record.causationId !== undefined && !this.#delivered.has(record.causationId)) {
      this.#hold(record.causationId, delivery);
      return job.resolve({ ...base, delivered: 0, held: true, duplicate: false });
    }
    const delivered = this.#deliver(delivery);
    if (typeof delivered === 'number') job.resolve({ ...base, delivered, held: false, duplicate: false });
    else void delivered.then((count) => job.resolve({ ...base, delivered: count, held: false, duplicate: false }));
  }

  /**
   * Why this message must be refused as a whole, before anything is stored or
   * delivered. Only the drain loop adds to inboxes, so room seen here is still
   * there when the message is offered after an (awaited) durable write.
   */
  #refusal(record: ChannelRecord): LiminalError | undefined {
    const full: Route[] = [];
    for (const route of this.#routes.values()) {
      if (route.filter !== undefined && !route.filter(record.message)) continue;
      if (route instanceof GroupRoute && route.liveMembers === 0) {
        this.#countUndeliverable();
        return new NoConsumerAvailableError(this.name, route.name, record.messageId);
      }
      if (route.inbox.wouldReject()) full.push(route);
    }
    if (full.length === 0) return undefined;
    for (const route of full) route.inbox.refuse();
    return new BackpressureError(this.name, full.map((route) => route.id));
  }

  /** Offers to every matching route; resolves to how many started handling it. */
  #deliver(delivery: Delivery): number | Promise<number> {
    let started = 0;
    const waiting: Promise<'started' | 'dropped'>[] = [];
    for (const route of this.#routes.values()) {
      if (route.filter !== undefined && !route.filter(delivery.message)) continue;
      const offer = route.inbox.offer(delivery);
      if (offer.kind === 'started') started += 1;
      else if (offer.kind === 'waiting') waiting.push(offer.outcome);
    }
    this.#markDelivered(delivery.messageId);
    if (waiting.length === 0) return started;
    return Promise.all(waiting).then((outcomes) => started + outcomes.filter((outcome) => outcome === 'started').length);
  }

  #markDelivered(messageId: string): void {
    this.#delivered.add(messageId);
    const waiting = this.#held.get(messageId);
    if (waiting === undefined) return;
    this.#held.delete(messageId);
    for (const held of waiting) {
      this.deps.clock.clearTimeout(held.timer);
      void this.#deliver(held.delivery);
    }
  }

  #hold(causationId: string, delivery: Delivery): void {
    this.#stats.held += 1;
    const held: Held = {
      delivery,
      timer: this.deps.clock.setTimeout(() => this.#orphan(causationId, held), this.deps.causalTimeoutMs),
    };
    const waiting = this.#held.get(causationId);
    if (waiting === undefined) this.#held.set(causationId, [held]);
    else waiting.push(held);
  }

  #orphan(causationId: string, held: Held): void {
    const waiting = this.#held.get(causationId);
    const index = waiting?.indexOf(held) ?? -1;
    if (waiting === undefined || index < 0) return;
    waiting.splice(index, 1);
    if (waiting.length === 0) this.#held.delete(causationId);
    this.#stats.orphaned += 1;
    this.deps.metrics.orphaned(this.name);
    // Through the queue like every delivery, so it keeps the drain loop's ordering.
    this.#queue.push({ kind: 'release', delivery: { ...held.delivery, orphaned: true } });
    this.#wake();
  }

  #dropHeld(): void {
    for (const waiting of this.#held.values()) {
      for (const held of waiting) {
        this.deps.clock.clearTimeout(held.timer);
        this.#inboxEvent('dropped');
      }
    }
    this.#held.clear();
  }

  #settleQueued(error: LiminalError): void {
    for (const job of this.#queue.drain()) {
      if (job.kind === 'publish') job.reject(error);
      else this.#inboxEvent('dropped');
    }
  }

  /** A consumer group had no live member for a message: refused at publish, or found with none left at dispatch. */
  #countUndeliverable(): void {
    this.#stats.undeliverable += 1;
    this.deps.metrics.rejected(this.name, 'no_consumer');
  }

  #inboxEvent(event: InboxEvent): void {
    switch (event) {
      case 'started':
        this.#stats.delivered += 1;
        break;
      case 'deferred':
      case 'blocked':
      case 'rejected':
      case 'dropped':
        this.#stats[event] += 1;
        break;
      case 'accepted':
        break;
    }
    this.deps.metrics.inboxEvent(this.name, event);
  }

  #validate(message: unknown): unknown {
    if (this.#schema === undefined) return message;
    try {
      return this.#schema.validate(message);
    } catch (error) {
      if (error instanceof SchemaMismatchError) {
        this.#stats.schemaRejected += 1;
        this.deps.metrics.rejected(this.name, 'schema');
      }
      throw error;
    }
  }

  /** Tells the current channel actor (whichever restart it is) that there is work. */
  #wake(): void {
    if (this.#drainActive) return;
    const children = this.#supervisor.getSnapshot().children as Record<string, AnyActorRef | undefined>;
    const actor = children['channel'];
    actor?.send({ type: 'wake' });
  }

  #assertUsable(): void {
    if (this.#status.kind === 'closed') throw new ChannelClosedError(this.name);
    if (this.#status.kind === 'failed') throw this.#status.error;
  }
}

function coordinates(messageId: string, written: { partition: number; sequence?: number; deliverAt?: number }) {
  return {
    messageId,
    partition: written.partition,
    ...(written.sequence === undefined ? {} : { sequence: written.sequence }),
    ...(written.deliverAt === undefined ? {} : { deliverAt: written.deliverAt }),
  };
}

function inboxLimits(options: InboxOptions): InboxLimits {
  const { capacity = 1, buffer = DEFAULT_BUFFER, overflow = 'block' } = options;
  assertPositiveSafeInteger('options.capacity', capacity);
  assertNonNegativeSafeInteger('options.buffer', buffer);
  if (overflow !== 'block' && overflow !== 'reject' && overflow !== 'dropOldest') {
    throw new InvalidArgumentError('options.overflow', `expected 'block', 'reject' or 'dropOldest', got ${JSON.stringify(overflow)}`);
  }
  return { capacity, buffer, overflow };
}

function assertPublishOptions(options: PublishOptions): void {
  for (const field of ['key', 'idempotencyKey', 'causationId', 'messageId', 'traceparent'] as const) {
    const value = options[field];
    if (value !== undefined && typeof value !== 'string') throw new InvalidArgumentError(`options.${field}`, 'expected a string');
  }
  if (options.messageId === '') throw new InvalidArgumentError('options.messageId', 'expected a non-empty string');
  if (options.deliverAt !== undefined) assertNonNegativeSafeInteger('options.deliverAt', options.deliverAt);
}

function assertEncodable(message: unknown): void {
  try {
    if (JSON.stringify(message) === undefined) throw new TypeError('not a JSON value');
  } catch (cause) {
    throw new InvalidArgumentError('message', `a durable channel stores JSON, and this message is not: ${(cause as Error).message}`);
  }
}
