/** How the journal keeps an error: `"Name: message"` (what a reopened conversation reads back). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
