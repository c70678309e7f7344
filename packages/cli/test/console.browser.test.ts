import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableChannel } from '@liminal/durability';
import { openStore, type DurableStore } from '@liminal/store';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConsole, type RunningConsole } from '../src/index.js';
import { demoRun1, runDemo, type DemoOutcome } from './support/demoRun.js';

/** Screenshots land here (gitignored) for a person to look at after the run. */
export const artifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install -y chromium (.ci/run does this)');
  }
}

/**
 * The web console end to end in Debian's headless chromium, driven by
 * playwright-core over a store a real demo run filled: the list, a phase
 * filter, a timeline, and lag that changes live while a producer publishes.
 */
describe('liminal console in headless chromium', () => {
  let store: DurableStore;
  let running: RunningConsole;
  let browser: BrowserContext;
  let page: Page;
  let demo: DemoOutcome;
  let profile: string;

  beforeAll(async () => {
    const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'liminal-console-')), 'demo.db')}`;
    demo = await runDemo(url, { messages: 80 });
    store = await openStore(url);
    running = await serveConsole(store, 0, { refreshMs: 200 });
    profile = mkdtempSync(join(tmpdir(), 'liminal-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath(),
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(20_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await store?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  it('lists conversations, filters them by phase and opens a timeline', async () => {
    await page.goto(`${running.url}/#/conversations?prefix=${encodeURIComponent(demoRun1.orderPrefix)}`);
    await page.getByTestId('conversation-row').first().waitFor();
    expect(await page.getByTestId('conversation-row').count()).toBe(50); // the first page of 80 orders
    await expect.poll(() => page.getByTestId('live').textContent()).toMatch(/^live/);

    await page.getByTestId('filter-phase').selectOption('failed');
    await page.waitForURL(/phase=failed/);
    await expect.poll(() => page.locator('[data-testid="conversation-row"]:not([data-phase="failed"])').count()).toBe(0);
    const failed = page.locator('[data-testid="conversation-row"][data-phase="failed"]');
    await expect.poll(() => failed.count()).toBe(demo.compensated);

    const id = (await failed.first().locator('a').textContent())!;
    await failed.first().locator('a').click();
    await expect.poll(() => page.getByTestId('conversation-id').textContent()).toBe(id);
    expect(await page.getByTestId('conversation-phase').getAttribute('data-phase')).toBe('failed');
    expect(await page.locator('[data-testid="timeline-row"][data-kind="compensationPlan"]').count()).toBe(1);
    expect(await page.locator('[data-testid="timeline-row"][data-kind="error"]').count()).toBeGreaterThan(0);
    // Every step row shows the duration its step journaled.
    const took = await page.locator('[data-testid="timeline-row"][data-kind="step"] [data-testid="step-took"]').allTextContents();
    expect(took.length).toBeGreaterThan(0);
    for (const text of took) expect(text).toMatch(/^(\d+ms|\d+\.\ds|\d+[dhms]( \d+[dhms])?)$/);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'console-timeline.png'), fullPage: true });
  }, 60_000);

  it('shows lag rising live while a producer publishes', async () => {
    await page.goto(`${running.url}/#/channels`);
    await page.getByTestId('channel-row').first().waitFor();
    await page.getByRole('link', { name: demoRun1.channel }).click();
    await expect.poll(() => page.getByTestId('total-lag').textContent()).toBe('0');

    const channel = new DurableChannel(store, demoRun1.channel, { partitions: 2 });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      await channel.publish(new TextEncoder().encode(`late order ${i}`), { key: `late-${i}` });
      // The page learns of it from the event stream, with no reload.
      await expect.poll(() => page.getByTestId('total-lag').textContent(), { timeout: 15_000 }).toBe(String(i + 1));
      seen.add((await page.getByTestId('total-lag').textContent())!);
    }
    expect([...seen]).toEqual(['1', '2', '3', '4', '5', '6']);
    await page.screenshot({ path: join(artifacts, 'console-lag.png'), fullPage: true });
  }, 60_000);
});
