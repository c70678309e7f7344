import type { MetricsSource } from '@liminal/channels';
import { AggregatorRegistry, Counter, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { WorkerStats } from './stats.js';

/** A worker's `ChannelMetrics` registry as `getMetricsAsJSON()` gives it, sent to the coordinator over IPC. */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the demo's own counters read at scrape time. */
export interface DemoTotals {
  readonly stats: WorkerStats;
  readonly workerRestarts: number;
}

/**
 * The coordinator's `/metrics`: the demo's counters (orders processed, steps,
 * crashes, restarts, compensations, duplicates suppressed), read from the
 * totals the workers report, plus every worker process's `ChannelMetrics`
 * (conversation phases, step latency histogram) merged with prom-client's
 * `AggregatorRegistry`: counters and histograms add up across processes. A
 * killed worker keeps its last report, so totals do not go backwards.
 */
export class DemoMetrics implements MetricsSource {
  readonly #own = new Registry();
  #totals: () => DemoTotals | undefined = () => undefined;
  #workers: () => readonly WorkerMetrics[] = () => [];

  constructor() {
    const registers = [this.#own];
    const totals = () => this.#totals();
    const counter = (name: string, help: string, read: (totals: DemoTotals) => number) =>
      new Counter({
        name: `liminal_demo_${name}`,
        help,
        registers,
        collect() {
          const current = totals();
          this.reset();
          if (current !== undefined) this.inc(read(current));
        },
      });
    counter('orders_processed_total', 'Orders whose conversation ended (fulfilled or compensated) in a worker.', (t) => t.stats.processed);
    counter('steps_total', 'Participant steps that ran (not replayed from a log).', (t) => t.stats.steps);
    counter('crashes_injected_total', 'Participant crashes injected by --crash-rate.', (t) => t.stats.crashesInjected);
    counter('compensations_total', 'Compensations (refunds, stock releases) run by order conversations.', (t) => t.stats.compensationsRun);
    counter('duplicates_suppressed_total', 'Side effects found already done by the dedup guard.', (t) => t.stats.duplicatesSuppressed);
    new Counter({
      name: 'liminal_demo_restarts_total',
      help: 'Restarts by each level of supervision.',
      labelNames: ['level'] as const,
      registers,
      collect() {
        const current = totals();
        this.reset();
        if (current === undefined) return;
        this.inc({ level: 'participant' }, current.stats.participantRestarts);
        this.inc({ level: 'partition' }, current.stats.partitionRestarts);
        this.inc({ level: 'worker' }, current.workerRestarts);
      },
    });
  }

  /** Where the counters and the workers' metrics come from, once the workers are started. */
  attach(totals: () => DemoTotals, workers: () => readonly WorkerMetrics[]): void {
    this.#totals = totals;
    this.#workers = workers;
  }

  async metrics(): Promise<string> {
    const own = await this.#own.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([own, ...this.#workers()]).metrics();
  }
}
