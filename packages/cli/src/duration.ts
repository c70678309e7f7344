import { UsageError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Parses `90s`, `5m`, `1h30m`, `250ms`, `2d` into milliseconds; anything else is a `UsageError`. */
export function parseDuration(text: string, option = 'duration'): number {
  let total = 0;
  let matched = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(text); match !== null; match = PART.exec(text)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    matched = PART.lastIndex;
  }
  if (text.length === 0 || matched !== text.length || !Number.isSafeInteger(Math.round(total))) {
    throw new UsageError(`${option} ${JSON.stringify(text)} is not a duration like 90s, 5m, 1h30m or 250ms`);
  }
  return Math.round(total);
}

/** `3d 4h`, `5m 12s`, `820ms`: the two largest units, for tables. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  // Under a minute the tenths still say something (a step of 2.5s is not one of 2s).
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const parts: string[] = [];
  let rest = Math.floor(ms / 1_000);
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size || (parts.length > 0 && parts.length < 2)) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
