/** A ratio with two decimals; small ones keep two significant digits (0.0008× must not read as 0.00×). */
export function times(ratio: number): string {
  return ratio >= 0.1 || ratio === 0 ? ratio.toFixed(2) : ratio.toPrecision(2);
}
