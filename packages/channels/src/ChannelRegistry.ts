import { ConfigError, type DurableStore, InvalidArgumentError, assertName, assertNonNegativeSafeInteger, assertPositiveSafeInteger } from '@liminal/store';
import type { ChannelHandle } from './ChannelHandle.js';
import { ChannelMetrics } from './ChannelMetrics.js';
import { type Clock, systemClock } from './Clock.js';
import { ChannelExistsError, ChannelNotFoundError } from './errors.js';
import { Channel } from './internal/Channel.js';
import { DurableLog } from './internal/DurableLog.js';
import { EphemeralLog } from './internal/MessageLog.js';
import type { ChannelConfig, ChannelSummary, RestartPolicy } from './types.js';

export interface ChannelRegistryOptions {
  /** Required for `mode: 'durable'` channels: where their messages are stored. */
  readonly store?: DurableStore;
  /** Default restart policy of every channel actor (default 3 restarts within 5 s). */
  readonly restart?: RestartPolicy;
  /** Default causal hold timeout (default 5 s). */
  readonly causalTimeoutMs?: number;
  /** Instruments to record on; default a new `ChannelMetrics` with its own prom-client registry. */
  readonly metrics?: ChannelMetrics;
  /** Time source for causal timeouts and publish timestamps; default the system clock. */
  readonly clock?: Clock;
}

const DEFAULT_RESTART: RestartPolicy = { maxRestarts: 3, withinMs: 5_000 };
const DEFAULT_CAUSAL_TIMEOUT_MS = 5_000;

/** The named channels of one process. */
export class ChannelRegistry {
  readonly telemetry: ChannelMetrics;
  readonly #channels = new Map<string, Channel<unknown>>();

  constructor(private readonly options: ChannelRegistryOptions = {}) {
    if (options.restart !== undefined) assertRestartPolicy('options.restart', options.restart);
    if (options.causalTimeoutMs !== undefined) assertNonNegativeSafeInteger('options.causalTimeoutMs', options.causalTimeoutMs);
    const { clock } = options;
    if (clock !== undefined && !(['now', 'setTimeout', 'clearTimeout'] as const).every((method) => typeof clock[method] === 'function')) {
      throw new ConfigError('options.clock must have now(), setTimeout() and clearTimeout()');
    }
    this.telemetry = options.metrics ?? new ChannelMetrics();
    this.telemetry.trackInboxDepths(() => [...this.#channels.values()].map((channel) => [channel.name, channel.depth] as const));
  }

  /** Creates a channel; a live channel with the same name → `ChannelExistsError`. */
  create<T = unknown>(config: ChannelConfig): ChannelHandle<T> {
    assertName('config.name', config.name);
    if (config.mode !== 'ephemeral' && config.mode !== 'durable') {
      throw new InvalidArgumentError('config.mode', `expected 'ephemeral' or 'durable', got ${JSON.stringify(config.mode)}`);
    }
    const partitions = config.partitions ?? 1;
    assertPositiveSafeInteger('config.partitions', partitions);
    const restartPolicy = config.restart ?? this.options.restart ?? DEFAULT_RESTART;
    assertRestartPolicy('config.restart', restartPolicy);
    const causalTimeoutMs = config.causalTimeoutMs ?? this.options.causalTimeoutMs ?? DEFAULT_CAUSAL_TIMEOUT_MS;
    assertNonNegativeSafeInteger('config.causalTimeoutMs', causalTimeoutMs);
    if (this.#channels.has(config.name)) throw new ChannelExistsError(config.name);
    const { store } = this.options;
    if (config.mode === 'durable' && store === undefined) {
      throw new ConfigError(`channel ${JSON.stringify(config.name)} is durable, but the registry was created without a store`);
    }
    const clock = this.options.clock ?? systemClock;
    const log = config.mode === 'durable' ? new DurableLog(store as DurableStore, config.name, partitions, clock) : new EphemeralLog(partitions);
    const channel: Channel<unknown> = new Channel<unknown>({
      name: config.name,
      mode: config.mode,
      partitions,
      schema: config.schema,
      log,
      metrics: this.telemetry,
      clock,
      restartPolicy,
      causalTimeoutMs,
      onClosed: () => {
        if (this.#channels.get(config.name) === channel) this.#channels.delete(config.name);
      },
    });
    this.#channels.set(config.name, channel);
    return channel as ChannelHandle<T>;
  }

  lookup<T = unknown>(name: string): ChannelHandle<T> | undefined {
    return this.#channels.get(name) as ChannelHandle<T> | undefined;
  }

  /** Every channel not closed (failed ones included), sorted by name, with its live subscriber count. */
  list(): ChannelSummary[] {
    return [...this.#channels.values()]
      .map((channel) => ({ name: channel.name, mode: channel.mode, state: channel.state, subscribers: channel.receivers }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Closes the channel and frees its name; an unknown name → `ChannelNotFoundError`. */
  async close(name: string): Promise<void> {
    const channel = this.#channels.get(name);
    if (channel === undefined) throw new ChannelNotFoundError(name);
    await channel.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#channels.values()].map((channel) => channel.close()));
  }

  /** Prometheus text exposition of the registry's metrics. */
  metrics(): Promise<string> {
    return this.telemetry.metrics();
  }
}

function assertRestartPolicy(argument: string, policy: RestartPolicy): void {
  assertNonNegativeSafeInteger(`${argument}.maxRestarts`, policy.maxRestarts);
  assertPositiveSafeInteger(`${argument}.withinMs`, policy.withinMs);
}
