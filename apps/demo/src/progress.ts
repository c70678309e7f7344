import cliProgress from 'cli-progress';

export interface ProgressSnapshot {
  readonly processed: number;
  readonly total: number;
  readonly crashes: number;
  readonly restarts: number;
}

/** Live progress: a bar on a terminal, one plain line per second otherwise (logs, CI, the chaos harness). */
export interface ProgressView {
  update(snapshot: ProgressSnapshot): void;
  /** A line that must not be drawn over by the bar. */
  note(line: string): void;
  stop(): void;
}

export function progressView(out: NodeJS.WriteStream, startedAt: number, startProcessed: number): ProgressView {
  const rate = (processed: number) => {
    const seconds = (Date.now() - startedAt) / 1000;
    return seconds <= 0 ? 0 : Math.round((processed - startProcessed) / seconds);
  };
  return out.isTTY ? barView(out, rate) : plainView(out, rate);
}

function barView(out: NodeJS.WriteStream, rate: (processed: number) => number): ProgressView {
  const bar = new cliProgress.SingleBar(
    {
      stream: out,
      format: 'orders {bar} {value}/{total} | {rate} orders/s | crashes {crashes} | restarts {restarts}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(s) {
      const payload = { rate: rate(s.processed), crashes: s.crashes, restarts: s.restarts };
      if (!started) {
        bar.start(s.total, s.processed, payload);
        started = true;
      } else bar.update(s.processed, payload);
    },
    note(line) {
      if (started) {
        // Clear the bar's line, print above it; the next update redraws the bar.
        out.write(`\r\x1b[2K${line}\n`);
      } else out.write(`${line}\n`);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function plainView(out: NodeJS.WriteStream, rate: (processed: number) => number): ProgressView {
  let lastPrinted = 0;
  let last: ProgressSnapshot | undefined;
  const print = (s: ProgressSnapshot) => {
    const percent = s.total === 0 ? 100 : Math.floor((s.processed / s.total) * 100);
    out.write(`progress ${s.processed}/${s.total} orders (${percent}%), ${rate(s.processed)} orders/s, crashes ${s.crashes}, restarts ${s.restarts}\n`);
    lastPrinted = Date.now();
  };
  return {
    update(s) {
      last = s;
      if (Date.now() - lastPrinted >= 1_000) print(s);
    },
    note(line) {
      out.write(`${line}\n`);
    },
    stop() {
      if (last !== undefined) print(last);
    },
  };
}
