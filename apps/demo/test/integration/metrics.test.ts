import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { finished, runCli, startCli } from './runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'liminal-demo-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const value = (families: readonly MetricFamily[], name: string, labels: Record<string, string> = {}): number => {
  const family = families.find((candidate) => candidate.name === name);
  const sample = family?.metrics.find((metric) => Object.entries(labels).every(([key, expected]) => metric.labels?.[key] === expected));
  return Number(sample?.value ?? sample?.count ?? Number.NaN);
};

describe('--metrics-port', () => {
  it('serves Prometheus /metrics on 127.0.0.1 while the demo runs: demo counters, conversation phases and step latencies', async () => {
    const store = `sqlite:${join(dir, 'metrics.db')}`;
    const child = startCli(['--store', store, '--messages', '500', '--partitions', '2', '--workers', '2', '--seed', '5', '--metrics-port', '0']);
    const result = finished(child);
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(seen);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      child.once('close', () => reject(new Error(`the demo exited before printing its metrics URL:\n${seen}`)));
    });

    // Scrape while it runs until orders have been processed and steps timed.
    let families: MetricFamily[] = [];
    for (let scrape = 0; scrape < 200; scrape++) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      families = parsePrometheusTextFormat(await response.text());
      const ended = value(families, 'liminal_conversation_phase', { phase: 'closed' }) + value(families, 'liminal_conversation_phase', { phase: 'failed' });
      // Worker metrics reach the coordinator every 250 ms, after the order counters: wait for both.
      if (value(families, 'liminal_demo_orders_processed_total') > 0 && value(families, 'liminal_conversation_step_duration_seconds') > 0 && ended > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(value(families, 'liminal_demo_orders_processed_total')).toBeGreaterThan(0);
    expect(value(families, 'liminal_demo_steps_total')).toBeGreaterThan(0);
    for (const name of ['liminal_demo_crashes_injected_total', 'liminal_demo_compensations_total']) expect(value(families, name)).toBeGreaterThanOrEqual(0);
    for (const level of ['participant', 'partition', 'worker']) expect(value(families, 'liminal_demo_restarts_total', { level })).toBeGreaterThanOrEqual(0);
    expect(families.find((family) => family.name === 'liminal_conversation_step_duration_seconds')?.type).toBe('HISTOGRAM');
    const phases = families.find((family) => family.name === 'liminal_conversation_phase');
    expect(phases?.type).toBe('GAUGE');
    const ended = value(families, 'liminal_conversation_phase', { phase: 'closed' }) + value(families, 'liminal_conversation_phase', { phase: 'failed' });
    expect(ended).toBeGreaterThan(0);

    const run = await result;
    expect(run.code, run.stderr).toBe(0);
    // Served only while the demo runs.
    await expect(fetch(url)).rejects.toThrow();
  }, 90_000);

  it('a port that is not a port is bad input: one line on stderr, exit 2, no store created', async () => {
    const file = join(dir, 'never.db');
    const run = await runCli(['--store', `sqlite:${file}`, '--metrics-port', '70000']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('--metrics-port');
    expect(existsSync(file)).toBe(false);
  });

  it('a port already in use is bad input too: exit 2 and no store created', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const file = join(dir, 'taken.db');
      const run = await runCli(['--store', `sqlite:${file}`, '--metrics-port', String(port)]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`--metrics-port ${port}`);
      expect(existsSync(file)).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
